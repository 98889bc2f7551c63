"""The trained model as plain arrays, its versioned on-disk layout, and the store that serves it.

Two kinds of model share this layout (``metadata["kind"]``):

- ``factors`` (LightFM, ALS): scores are ``item_factors @ user_factors[u] + item_biases``;
- ``item_item`` (EASE): no user factors; scores are the user's weighted history row times a sparse
  item x item neighbour matrix (``neighbours``, CSR), so a new like changes the scores exactly.

Layout per content type::

    <model_dir>/<content_type>/<version>/*.npy + meta.json   one immutable folder per trained model
    <model_dir>/<content_type>/CURRENT                       the name of the folder being served

A save writes a hidden temporary folder, fsyncs every file and the folder, renames it into place and
only then switches ``CURRENT`` (write a temporary file, fsync, ``os.replace``). A reader therefore
sees the old model or the new one, never half of one. Arrays are loaded memory-mapped: a server
process with several models pays resident memory only for the pages that scoring touches.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .config import EngineConfig
from .errors import CorruptModel, ModelNotFound

logger = logging.getLogger(__name__)

# 2: model kinds, per-pair timestamps of the seen matrix. Format-1 folders (factor models without
# timestamps) still load: nothing in them is missing for the factor kind.
# 3: factor models (popularity included) keep an item-kNN of co-occurrence (``similar``), so similar
# items, reasons and diversity mean something whatever model is served; a factor model blended with
# item-item weights (ALS + RP3beta) also has the neighbour arrays. Format-1 and 2 folders still
# load, without it (similar items then come from the embeddings, as they did).
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)
CURRENT = "CURRENT"
META = "meta.json"
FACTORS = "factors"
ITEM_ITEM = "item_item"
KINDS = (FACTORS, ITEM_ITEM)
ARRAY_NAMES = (
    "user_ids", "item_ids", "user_factors", "user_biases", "item_factors", "item_biases", "item_norms",
    "popularity", "trending", "seen_indptr", "seen_indices", "seen_weights", "feature_names",
)  # fmt: skip
NEIGHBOUR_ARRAYS = ("neighbour_indptr", "neighbour_indices", "neighbour_weights")
SIMILAR_ARRAYS = ("similar_indptr", "similar_indices", "similar_weights")


def array_names(format_version: int, kind: str, *, blended: bool = False) -> tuple[str, ...]:
    """The files a saved model of this format and kind consists of."""
    if format_version == 1:
        return ARRAY_NAMES
    if kind == ITEM_ITEM:
        return (*ARRAY_NAMES, "seen_timestamps", *NEIGHBOUR_ARRAYS)
    if format_version < 3:
        return (*ARRAY_NAMES, "seen_timestamps")
    return (*ARRAY_NAMES, "seen_timestamps", *SIMILAR_ARRAYS, *(NEIGHBOUR_ARRAYS if blended else ()))


# A crashed save leaves a hidden temporary folder; one this old cannot belong to a save still running.
STALE_TEMP_S = 6 * 3600


@dataclass(frozen=True)
class UserItems:
    """Rows of item lists in CSR form (kept as raw arrays so memory-mapped files are not copied).

    As the seen matrix (one row per user): ``weights`` > 0 are positives, 0 items seen without being a
    positive (a low rating), < 0 dislikes; ``timestamps`` the latest event time of each pair (None in
    format-1 models). As the neighbour matrix of an item-item model: row i holds the items that
    history item i adds score to, with the weights it adds.
    """

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]
    timestamps: npt.NDArray[np.int64] | None = None

    def row(self, index: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        start, end = int(self.indptr[index]), int(self.indptr[index + 1])
        return self.indices[start:end], self.weights[start:end]

    def row_timestamps(self, index: int) -> npt.NDArray[np.int64] | None:
        if self.timestamps is None:
            return None
        return self.timestamps[int(self.indptr[index]) : int(self.indptr[index + 1])]

    def to_csr(self, n_columns: int) -> sp.csr_matrix:
        """A scipy view (no copy of memory-mapped data beyond what scipy's index checks need)."""
        return sp.csr_matrix((self.weights, self.indices, self.indptr), shape=(self.indptr.shape[0] - 1, n_columns))


# The same CSR structure, named for what an item-item model keeps in it.
ItemNeighbours = UserItems


@dataclass(frozen=True)
class ModelArtifact:
    """Everything serving needs, for both kinds (see the module docstring).

    For a hybrid model the item rows are already the sums of their feature embeddings (what LightFM's
    ``get_item_representations`` computes), so serving never needs the feature matrix. An item-item
    model has zero-width factor arrays (``(n_users, 0)``, ``(n_items, 0)``) and zero biases, and its
    ``neighbours``.
    """

    user_ids: npt.NDArray[np.int64]  # sorted external ids; row index = position
    item_ids: npt.NDArray[np.str_]  # sorted external ids; row index = position
    user_factors: npt.NDArray[np.float32]
    user_biases: npt.NDArray[np.float32]
    item_factors: npt.NDArray[np.float32]
    item_biases: npt.NDArray[np.float32]
    item_norms: npt.NDArray[np.float32]
    popularity: npt.NDArray[np.float32]
    trending: npt.NDArray[np.float32]
    seen: UserItems
    feature_names: npt.NDArray[np.str_]  # genre features of a hybrid model (empty for pure CF)
    metadata: dict[str, Any] = field(default_factory=dict)
    neighbours: ItemNeighbours | None = None  # item-item models only
    # Factor models (popularity included): cosine of co-occurrence per item (engine/neighbourhood.py);
    # None in models saved before format 3. An item-item model's similar items are its neighbours.
    similar: ItemNeighbours | None = None

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", FACTORS))

    @property
    def history_half_life_days(self) -> float:
        """Recency weighting of an item-item model's history (0 = every item alike)."""
        return float(self.metadata.get("scoring", {}).get("history_half_life_days", 0.0))

    @property
    def popularity_blend(self) -> float:
        """Weight of standardised log-popularity added to an item-item model's standardised scores."""
        return float(self.metadata.get("scoring", {}).get("popularity_blend", 0.0))

    @property
    def n_users(self) -> int:
        return int(self.user_ids.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_ids.shape[0])

    @cached_property
    def config(self) -> EngineConfig:
        """The settings the model was trained with (fold-in must weight events the same way)."""
        return EngineConfig.from_saved(self.metadata["config"])

    @property
    def rating_scale(self) -> float:
        return float(self.metadata["rating_scale"])

    @property
    def fold_in_length(self) -> float:
        """Mean length of the trained user vectors (stored so serving never reads all of them)."""
        return float(self.metadata["user_vector_length"])

    def user_index(self, user_id: int) -> int | None:
        pos = int(np.searchsorted(self.user_ids, user_id))
        return pos if pos < self.n_users and int(self.user_ids[pos]) == user_id else None

    def user_indices(self, user_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Row index per user id, -1 where the model does not know the user."""
        pos = np.searchsorted(self.user_ids, user_ids)
        clipped = np.minimum(pos, self.n_users - 1)
        return np.where(self.user_ids[clipped] == user_ids, clipped, -1).astype(np.int64)

    def item_index(self, item_id: str) -> int | None:
        pos = int(np.searchsorted(self.item_ids, item_id))
        return pos if pos < self.n_items and str(self.item_ids[pos]) == item_id else None

    def item_indices(self, item_ids: npt.NDArray[np.str_]) -> npt.NDArray[np.int64]:
        """Row index per item id, -1 where the model does not know the item."""
        if item_ids.shape[0] == 0:
            return np.empty(0, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, item_ids)
        clipped = np.minimum(pos, self.n_items - 1)
        return np.where(self.item_ids[clipped] == item_ids, clipped, -1).astype(np.int64)

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The arrays a save writes (format FORMAT_VERSION, this artifact's kind)."""
        out: dict[str, npt.NDArray[Any]] = {
            "user_ids": self.user_ids, "item_ids": self.item_ids, "user_factors": self.user_factors,
            "user_biases": self.user_biases, "item_factors": self.item_factors, "item_biases": self.item_biases,
            "item_norms": self.item_norms, "popularity": self.popularity, "trending": self.trending,
            "seen_indptr": self.seen.indptr, "seen_indices": self.seen.indices, "seen_weights": self.seen.weights,
            "feature_names": self.feature_names,
            "seen_timestamps": (
                self.seen.timestamps if self.seen.timestamps is not None
                else np.zeros(self.seen.indices.shape[0], dtype=np.int64)
            ),
        }  # fmt: skip
        if self.neighbours is not None:
            out["neighbour_indptr"] = self.neighbours.indptr
            out["neighbour_indices"] = self.neighbours.indices
            out["neighbour_weights"] = self.neighbours.weights
        if self.kind != ITEM_ITEM:
            similar = self.similar or ItemNeighbours(
                np.zeros(self.n_items + 1, dtype=np.int64), np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
            )
            out["similar_indptr"] = similar.indptr
            out["similar_indices"] = similar.indices
            out["similar_weights"] = similar.weights
        return out


def new_version(now: datetime | None = None) -> str:
    """Sortable by time; the random suffix keeps two saves in the same microsecond apart."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{secrets.token_hex(3)}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, payload: bytes) -> None:
    with path.open("wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())


def save_artifact(artifact: ModelArtifact, model_dir: Path | str, content_type: str, *, keep: int = 3) -> Path:
    """Write ``artifact`` as a new version, make it current, prune old versions; returns its folder."""
    type_dir = Path(model_dir) / content_type
    type_dir.mkdir(parents=True, exist_ok=True)
    version = artifact.version
    final = type_dir / version
    if final.exists():
        raise FileExistsError(f"model version {version} already exists in {type_dir}")
    tmp = type_dir / f".tmp-{version}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        sizes: dict[str, int] = {}
        for name, array in artifact.arrays().items():
            path = tmp / f"{name}.npy"
            with path.open("wb") as f:
                np.save(f, np.ascontiguousarray(array), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            sizes[name] = path.stat().st_size
        meta = {
            **artifact.metadata, "kind": artifact.kind, "format": FORMAT_VERSION, "content_type": content_type,
            "files": sizes,
        }  # fmt: skip
        # meta.json goes last: a folder without it is recognisably incomplete.
        _write_file(tmp / META, json.dumps(meta, indent=2, sort_keys=True).encode())
        _fsync_dir(tmp)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(type_dir)
    _switch_current(type_dir, version)
    prune_versions(type_dir, keep=keep)
    logger.info("saved %s model %s to %s", content_type, version, final)
    return final


def _switch_current(type_dir: Path, version: str) -> None:
    tmp = type_dir / f".{CURRENT}.{secrets.token_hex(4)}"
    _write_file(tmp, f"{version}\n".encode())
    os.replace(tmp, type_dir / CURRENT)
    _fsync_dir(type_dir)


def publish_version(model_dir: Path | str, content_type: str, version: str) -> ModelArtifact:
    """Serve a kept version again (a roll back): the same pointer switch that ends ``save_artifact``.

    The folder is loaded and checked first, so a missing or corrupt version raises (``ModelNotFound``,
    ``CorruptModel``) and ``CURRENT`` is left as it was. Nothing is pruned: every kept version stays.
    """
    type_dir = Path(model_dir) / content_type
    if version not in list_versions(type_dir):
        raise ModelNotFound(f"no {content_type} model version {version!r} is kept in {type_dir}")
    artifact = load_artifact(type_dir / version)
    _switch_current(type_dir, version)
    logger.info("%s model %s published again (roll back)", content_type, version)
    return artifact


def current_version(model_dir: Path | str, content_type: str) -> str | None:
    """The version ``CURRENT`` names (None before the first save); raises CorruptModel for a bad pointer."""
    return _read_pointer(Path(model_dir) / content_type)


def list_versions(type_dir: Path) -> list[str]:
    if not type_dir.is_dir():
        return []
    return sorted(p.name for p in type_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def prune_versions(type_dir: Path, *, keep: int) -> None:
    """Delete all but the newest ``keep`` versions (never the current one) and stale temporary folders.

    A server still holding a deleted version memory-mapped keeps reading it: on POSIX an unlinked file
    lives until its last mapping is closed.
    """
    current = _read_pointer(type_dir)
    versions = list_versions(type_dir)
    for name in versions[: max(len(versions) - keep, 0)]:
        if name != current:
            shutil.rmtree(type_dir / name)
    cutoff = time.time() - STALE_TEMP_S
    for path in type_dir.glob(".tmp-*"):
        if path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)


def _read_pointer(type_dir: Path) -> str | None:
    try:
        name = (type_dir / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    if not name or "/" in name or name.startswith("."):
        raise CorruptModel(f"{type_dir / CURRENT} does not name a model version: {name!r}")
    return name


def _load_array(path: Path, expected_size: int) -> npt.NDArray[Any]:
    try:
        actual = path.stat().st_size
        if actual != expected_size:
            raise CorruptModel(f"{path} has {actual} bytes, expected {expected_size}")
        with path.open("rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, _ = read_header(f)
        if int(np.prod(shape)) == 0:
            # An empty array cannot be memory-mapped; there is nothing to map anyway.
            array: npt.NDArray[Any] = np.load(path, allow_pickle=False)
        else:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        return array
    except (OSError, ValueError) as exc:
        raise CorruptModel(f"cannot read {path}: {exc}") from exc


def load_artifact(folder: Path | str) -> ModelArtifact:
    """Open a saved version memory-mapped; an incomplete or inconsistent folder raises CorruptModel."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError) as exc:
        raise CorruptModel(f"{folder} has no readable {META}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") not in READABLE_FORMATS:
        raise CorruptModel(f"{folder} is not a model of format {' or '.join(map(str, READABLE_FORMATS))}")
    kind = meta.get("kind", FACTORS)
    if kind not in KINDS or (meta["format"] == 1 and kind != FACTORS):
        raise CorruptModel(f"{folder} is a model of unknown kind {kind!r}")
    names = array_names(int(meta["format"]), kind, blended=isinstance(meta.get("files"), dict)
                        and "neighbour_indptr" in meta["files"])  # fmt: skip
    sizes = meta.get("files")
    if not isinstance(sizes, dict) or set(sizes) != set(names):
        raise CorruptModel(f"{folder}/{META} does not list the expected files")
    arrays = {name: _load_array(folder / f"{name}.npy", int(sizes[name])) for name in names}
    neighbours = similar = None
    if "neighbour_indptr" in arrays:
        neighbours = ItemNeighbours(
            arrays["neighbour_indptr"], arrays["neighbour_indices"], arrays["neighbour_weights"]
        )
    if kind != ITEM_ITEM and "similar_indptr" in arrays:
        similar = ItemNeighbours(arrays["similar_indptr"], arrays["similar_indices"], arrays["similar_weights"])
    artifact = ModelArtifact(
        user_ids=arrays["user_ids"], item_ids=arrays["item_ids"], user_factors=arrays["user_factors"],
        user_biases=arrays["user_biases"], item_factors=arrays["item_factors"], item_biases=arrays["item_biases"],
        item_norms=arrays["item_norms"], popularity=arrays["popularity"], trending=arrays["trending"],
        seen=UserItems(
            arrays["seen_indptr"], arrays["seen_indices"], arrays["seen_weights"], arrays.get("seen_timestamps")
        ),
        feature_names=arrays["feature_names"], metadata=meta, neighbours=neighbours, similar=similar,
    )  # fmt: skip
    check_consistent(artifact)
    return artifact


def check_consistent(artifact: ModelArtifact) -> None:
    """Shapes and dtypes agree with each other; otherwise scoring would fail or, worse, misalign ids."""
    n_users, n_items = artifact.n_users, artifact.n_items
    dim = artifact.item_factors.shape[1] if artifact.item_factors.ndim == 2 else -1
    expected = {
        "user_factors": (n_users, dim), "user_biases": (n_users,), "item_factors": (n_items, dim),
        "item_biases": (n_items,), "item_norms": (n_items,), "popularity": (n_items,), "trending": (n_items,),
        "seen_indptr": (n_users + 1,), "seen_indices": (artifact.seen.weights.shape[0],),
    }  # fmt: skip
    if artifact.kind == ITEM_ITEM and dim != 0:
        raise CorruptModel("an item-item model has item factors")
    arrays = artifact.arrays()
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise CorruptModel(f"{name} has shape {arrays[name].shape}, expected {shape}")
    float_arrays = ("user_factors", "item_factors", "item_biases", "item_norms", "popularity", "seen_weights")
    if any(arrays[name].dtype != np.float32 for name in float_arrays):
        raise CorruptModel("factor and score arrays must be float32")
    if artifact.item_ids.dtype.kind != "U" or artifact.user_ids.dtype != np.int64 or n_items == 0:
        raise CorruptModel("id arrays have the wrong type or the model has no items")
    if int(artifact.seen.indptr[-1]) != artifact.seen.indices.shape[0]:
        raise CorruptModel("seen_indptr does not match seen_indices")
    stamps = artifact.seen.timestamps
    if stamps is not None and (stamps.shape != artifact.seen.indices.shape or stamps.dtype != np.int64):
        raise CorruptModel("seen_timestamps do not match seen_indices")
    if artifact.kind == ITEM_ITEM or artifact.neighbours is not None:
        # A factor model may carry item-item weights it is blended with (ALS + RP3beta).
        _check_neighbours(artifact.neighbours, n_items)
    if artifact.kind != ITEM_ITEM and artifact.similar is not None:
        _check_neighbours(artifact.similar, n_items, name="similar")


def _check_neighbours(neighbours: ItemNeighbours | None, n_items: int, *, name: str = "neighbour") -> None:
    if neighbours is None:
        raise CorruptModel("an item-item model has no neighbour matrix")
    if neighbours.indptr.shape != (n_items + 1,) or int(neighbours.indptr[-1]) != neighbours.indices.shape[0]:
        raise CorruptModel(f"{name}_indptr does not match the items or {name}_indices")
    if neighbours.weights.shape != neighbours.indices.shape or neighbours.weights.dtype != np.float32:
        raise CorruptModel(f"{name}_weights must be float32, one per {name} index")
    if neighbours.indices.shape[0] and (int(neighbours.indices.max()) >= n_items or int(neighbours.indices.min()) < 0):
        raise CorruptModel(f"a {name} index points outside the catalog")


@dataclass
class _Loaded:
    signature: tuple[int, int, int]
    artifact: ModelArtifact


class ModelStore:
    """The current model per content type, reloaded when ``CURRENT`` changes (one ``stat`` per call).

    A running server picks up a newly saved model without a restart. If the new version cannot be
    loaded, the store logs an error and keeps serving the model it already has: an old model is a
    correct answer, a crash on every request is not. With nothing loaded yet it raises.
    """

    def __init__(self, model_dir: Path | str) -> None:
        self._dir = Path(model_dir)
        self._loaded: dict[str, _Loaded] = {}
        self._failed: dict[str, tuple[int, int, int]] = {}
        self._lock = threading.Lock()

    def current(self, content_type: str) -> ModelArtifact:
        type_dir = self._dir / content_type
        try:
            st = os.stat(type_dir / CURRENT)
        except FileNotFoundError as exc:
            raise ModelNotFound(f"no {content_type} model has been trained yet") from exc
        signature = (st.st_ino, st.st_mtime_ns, st.st_size)
        loaded = self._loaded.get(content_type)
        if loaded is not None and (loaded.signature == signature or self._failed.get(content_type) == signature):
            return loaded.artifact
        with self._lock:
            loaded = self._loaded.get(content_type)
            if loaded is not None and loaded.signature == signature:
                return loaded.artifact
            try:
                version = _read_pointer(type_dir)
                if version is None:
                    raise ModelNotFound(f"no {content_type} model has been trained yet")
                artifact = load_artifact(type_dir / version)
            except CorruptModel:
                if loaded is None:
                    raise
                self._failed[content_type] = signature
                logger.exception("refusing %s model; still serving %s", content_type, loaded.artifact.version)
                return loaded.artifact
            self._loaded[content_type] = _Loaded(signature, artifact)
            self._failed.pop(content_type, None)
            logger.info("serving %s model %s", content_type, artifact.version)
            return artifact

    def versions(self, content_type: str) -> list[str]:
        return list_versions(self._dir / content_type)
