"""Train a LightFM (WARP) model on interaction arrays and turn it into a ModelArtifact.

This is the one training path: the service, the evaluation command and the benches all call
``train_model``, so what is measured offline is what is served.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..domain import CatalogItem, InteractionArrays
from .artifact import ModelArtifact, UserItems, new_version
from .config import EngineConfig
from .errors import EngineUnavailable, InvalidData
from .matrix import InteractionMatrix, build_interaction_matrix, item_feature_matrix
from .popularity import popularity_scores, trending_scores

logger = logging.getLogger(__name__)


def load_lightfm() -> ModuleType:
    """Import LightFM only when training: serving and evaluation of saved models must not need it."""
    try:
        module = importlib.import_module("lightfm")
    except ImportError as exc:
        raise EngineUnavailable(f"LightFM cannot be imported: {exc}") from exc
    return module


@dataclass(frozen=True)
class FittedFactors:
    user_factors: npt.NDArray[np.float32]
    user_biases: npt.NDArray[np.float32]
    item_factors: npt.NDArray[np.float32]
    item_biases: npt.NDArray[np.float32]
    fit_seconds: float


# Called after each training epoch with (epochs done, epochs in all).
EpochCallback = Callable[[int, int], None]


def _reporting_epochs(on_epoch: EpochCallback) -> Callable[..., Iterator[int]]:
    # LightFM runs all epochs in one call, iterating ``self._progress(epochs, verbose)``: the one point
    # between epochs it lets us in at. (tests/engine/test_train.py notices if an upgrade removes it.)
    def epochs(n: int, verbose: bool = False) -> Iterator[int]:
        for epoch in range(n):
            yield epoch
            on_epoch(epoch + 1, n)

    return epochs


def fit_factors(
    interactions: sp.coo_matrix,
    config: EngineConfig,
    item_features: sp.csr_matrix | None = None,
    *,
    on_epoch: EpochCallback | None = None,
) -> FittedFactors:
    """Fit LightFM and return per-item representations (sums of feature embeddings) and user factors."""
    lightfm = load_lightfm()
    model: Any = lightfm.LightFM(
        no_components=config.no_components,
        loss=config.loss,
        learning_rate=config.learning_rate,
        item_alpha=config.item_alpha,
        user_alpha=config.user_alpha,
        max_sampled=config.max_sampled,
        random_state=config.random_seed,
    )
    if on_epoch is not None:
        model._progress = _reporting_epochs(on_epoch)  # shadows the static method for this model only
    started = time.perf_counter()
    # The weights are both the interaction values and the sample weights: WARP reads positives from
    # the former and scales each update by the latter.
    model.fit(
        interactions,
        item_features=item_features,
        sample_weight=interactions,
        epochs=config.epochs,
        num_threads=config.num_threads,
    )
    fit_seconds = time.perf_counter() - started
    if item_features is None:
        item_biases, item_factors = model.item_biases, model.item_embeddings
    else:
        item_biases, item_factors = model.get_item_representations(item_features)
    return FittedFactors(
        user_factors=np.ascontiguousarray(model.user_embeddings, dtype=np.float32),
        user_biases=np.ascontiguousarray(model.user_biases, dtype=np.float32),
        item_factors=np.ascontiguousarray(item_factors, dtype=np.float32),
        item_biases=np.ascontiguousarray(item_biases, dtype=np.float32),
        fit_seconds=fit_seconds,
    )


def genre_cold_start(
    fitted: FittedFactors,
    item_ids: npt.NDArray[np.str_],
    interactions: sp.coo_matrix,
    catalog: Sequence[CatalogItem],
) -> FittedFactors:
    """Give items without any positive interaction the mean factors and bias of warm items of their genres.

    WARP never learns a vector for an item no user liked (it only pushes it away as a sampled negative),
    so its trained vector says nothing. The genre centroid places it among items of the same kind.
    Items without genres, or whose genres no warm item has, keep their (low-scoring) trained vectors.
    """
    n_items = item_ids.shape[0]
    warm = np.bincount(interactions.col, minlength=n_items) > 0
    genres_of = {item.item_id: item.genres for item in catalog}
    names = sorted({g for genres in genres_of.values() for g in genres})
    if warm.all() or not names:
        return fitted
    column = {name: j for j, name in enumerate(names)}
    membership = np.zeros((n_items, len(names)), dtype=np.float32)
    for row, item_id in enumerate(item_ids.tolist()):
        for genre in genres_of.get(item_id, ()):
            membership[row, column[genre]] = 1.0
    warm_members = membership * warm[:, None]
    per_genre = warm_members.sum(axis=0)
    has_centroid = per_genre > 0
    centroids = (warm_members.T @ fitted.item_factors)[has_centroid] / per_genre[has_centroid, None]
    bias_centroids = (warm_members.T @ fitted.item_biases)[has_centroid] / per_genre[has_centroid]
    cold_membership = membership[:, has_centroid]
    counts = cold_membership.sum(axis=1)
    fill = ~warm & (counts > 0)
    item_factors = fitted.item_factors.copy()
    item_biases = fitted.item_biases.copy()
    item_factors[fill] = (cold_membership[fill] @ centroids) / counts[fill, None]
    item_biases[fill] = (cold_membership[fill] @ bias_centroids) / counts[fill]
    logger.info("%d cold items placed at the centroid of their genres", int(fill.sum()))
    return dataclasses.replace(
        fitted, item_factors=item_factors.astype(np.float32), item_biases=item_biases.astype(np.float32)
    )


def train_model(
    arrays: InteractionArrays,
    catalog: Sequence[CatalogItem],
    config: EngineConfig,
    *,
    trained_at: datetime | None = None,
    on_epoch: EpochCallback | None = None,
) -> ModelArtifact:
    """Train on all interactions of one content type; the catalog supplies genres and cold items."""
    started = time.perf_counter()
    if config.use_item_features:
        extra = [item.item_id for item in catalog]
    elif config.cold_items_from_genres:
        extra = [item.item_id for item in catalog if item.genres]
    else:
        extra = []
    matrix = build_interaction_matrix(arrays, config, extra_item_ids=extra)
    interactions = matrix.positives()
    if interactions.nnz == 0:
        raise InvalidData("no interaction is a positive (only dislikes, low ratings or zero weights)")
    features, genre_names = (None, np.empty(0, dtype=np.str_))
    if config.use_item_features:
        features, genre_names = item_feature_matrix(matrix.item_ids, catalog)
    fitted = fit_factors(interactions, config, features, on_epoch=on_epoch)
    if not config.use_item_features and config.cold_items_from_genres:
        fitted = genre_cold_start(fitted, matrix.item_ids, interactions, catalog)
    artifact = _assemble(
        matrix,
        fitted,
        arrays,
        genre_names=genre_names,
        config=config,
        n_positives=interactions.nnz,
        n_events=len(arrays),
        trained_at=trained_at,
    )
    logger.info(
        "trained %d users x %d items on %d positives in %.1fs (fit %.1fs)",
        artifact.n_users, artifact.n_items, interactions.nnz, time.perf_counter() - started, fitted.fit_seconds,
    )  # fmt: skip
    return artifact


def _assemble(
    matrix: InteractionMatrix,
    fitted: FittedFactors,
    arrays: InteractionArrays,
    *,
    genre_names: npt.NDArray[np.str_],
    config: EngineConfig,
    n_positives: int,
    n_events: int,
    trained_at: datetime | None,
) -> ModelArtifact:
    trained_at = trained_at or datetime.now(UTC)
    seen = matrix.seen
    # Every event counts for popularity (not only the deduplicated pairs), as in the data service.
    event_items = np.searchsorted(matrix.item_ids, arrays.item_ids)
    metadata: dict[str, Any] = {
        "version": new_version(trained_at),
        "trained_at": trained_at.isoformat(),
        "engine": "lightfm",
        "counts": {
            "users": matrix.shape[0],
            "items": matrix.shape[1],
            "events": n_events,
            "pairs": int(seen.nnz),
            "positives": n_positives,
        },
        "rating_scale": matrix.rating_scale,
        "user_vector_length": float(np.linalg.norm(fitted.user_factors, axis=1).mean()),
        "fit_seconds": round(fitted.fit_seconds, 3),
        "metrics": {},
        "config": config.to_dict(),
    }
    return ModelArtifact(
        user_ids=matrix.user_ids,
        item_ids=matrix.item_ids,
        user_factors=fitted.user_factors,
        user_biases=fitted.user_biases,
        item_factors=fitted.item_factors,
        item_biases=fitted.item_biases,
        item_norms=np.linalg.norm(fitted.item_factors, axis=1).astype(np.float32),
        popularity=popularity_scores(event_items, arrays.kinds, arrays.timestamps, matrix.shape[1]),
        trending=trending_scores(event_items, arrays.kinds, arrays.timestamps, matrix.shape[1]),
        seen=UserItems(
            indptr=seen.indptr.astype(np.int64),
            indices=seen.indices.astype(np.int32),
            weights=seen.data.astype(np.float32),
        ),
        feature_names=genre_names,
        metadata=metadata,
    )
