"""Offline evaluation that can be trusted: the production training path, full ranking, a baseline.

For every test user the model knows, ALL items are ranked except the user's training items, and the
same is done for the popularity list the service falls back to. Nothing is sampled (sampled metrics
can reverse which model is better, Krichene & Rendle 2020).
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..domain import CatalogItem, InteractionArrays, InteractionKind
from .artifact import ModelArtifact
from .config import EngineConfig
from .errors import InvalidData
from .metrics import auc, catalog_coverage, ndcg_at_k, precision_at_k, recall_at_k
from .serving import Recommender
from .spark import SparkOptions
from .splits import global_time_split, random_split, take, time_split

__all__ = ["global_time_split", "random_split", "take", "time_split"]  # the splits, re-exported

logger = logging.getLogger(__name__)

USER_COLUMNS = ("user", "user_id", "userid")
ITEM_COLUMNS = ("item", "item_id", "itemid", "movie_id", "movieid", "anime_id", "manga_id")
RATING_COLUMNS = ("rating", "score", "value")
TIME_COLUMNS = ("timestamp", "ts", "time")


class UserCodes:
    """Opaque user labels from files <-> the int64 ids InteractionArrays carry (shared by train and test)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self.labels: list[str] = []

    def encode(self, labels: Sequence[str]) -> npt.NDArray[np.int64]:
        out = np.empty(len(labels), dtype=np.int64)
        for n, label in enumerate(labels):
            code = self._codes.get(label)
            if code is None:
                code = self._codes[label] = len(self.labels)
                self.labels.append(label)
            out[n] = code
        return out


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for n, name in enumerate(header):
        if name in names:
            return n
    return None


def _required_column(header: list[str], names: tuple[str, ...], path: Path) -> int:
    column = _column(header, names)
    if column is None:
        raise InvalidData(f"{path}: header has no column named one of {', '.join(names)}")
    return column


def read_ratings(path: Path | str, users: UserCodes) -> InteractionArrays:
    """Read ``user,item,rating[,timestamp]`` rows (tab or comma separated) as RATED interactions.

    Ids are opaque strings. A header is expected; a file without one (every field of the first row
    numeric, as in MovieLens ``u.data``) is read positionally. A negative or empty rating means
    "consumed, not rated" (MyAnimeList writes -1) and becomes a WATCHED event.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            first = f.readline()
            delimiter = "\t" if "\t" in first else ","
            header = [field.strip().lower() for field in next(csv.reader([first], delimiter=delimiter), [])]
            rows = list(csv.reader(f, delimiter=delimiter))
    except UnicodeDecodeError as exc:
        raise InvalidData(f"{path}: not UTF-8 text: {exc}") from exc
    if _looks_numeric(header):
        rows.insert(0, header)
        columns: tuple[int, int, int, int | None] = (0, 1, 2, 3 if len(header) > 3 else None)
    else:
        columns = (
            _required_column(header, USER_COLUMNS, path),
            _required_column(header, ITEM_COLUMNS, path),
            _required_column(header, RATING_COLUMNS, path),
            _column(header, TIME_COLUMNS),
        )
    return _rows_to_arrays(rows, columns, users, path)


def _looks_numeric(fields: list[str]) -> bool:
    try:
        [float(field) for field in fields]
    except ValueError:
        return False
    return len(fields) >= 3


def _rows_to_arrays(
    rows: list[list[str]], columns: tuple[int, int, int, int | None], users: UserCodes, path: Path
) -> InteractionArrays:
    user_col, item_col, rating_col, time_col = columns
    rows = [row for row in rows if row]
    try:
        ratings = np.array([float(row[rating_col]) if row[rating_col].strip() else -1.0 for row in rows])
        stamps = np.array([int(row[time_col]) for row in rows] if time_col is not None else [0] * len(rows))
        user_labels = [row[user_col].strip() for row in rows]
        item_ids = np.array([row[item_col].strip() for row in rows], dtype=np.str_)
    except (ValueError, IndexError) as exc:
        raise InvalidData(f"{path}: malformed row: {exc}") from exc
    if not rows:
        raise InvalidData(f"{path}: no rows")
    unrated = ratings < 0
    return InteractionArrays(
        user_ids=users.encode(user_labels),
        item_ids=item_ids,
        kinds=np.where(unrated, InteractionKind.WATCHED, InteractionKind.RATED).astype(np.int8),
        values=np.where(unrated, np.nan, ratings).astype(np.float32),
        timestamps=stamps.astype(np.int64),
    )


@dataclass(frozen=True)
class RankingMetrics:
    precision: float
    recall: float
    ndcg: float
    coverage: float

    def summary(self, k: int) -> dict[str, float]:
        return {f"{name}@{k}" if name != "coverage" else name: round(value, 5) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class EvaluationReport:
    k: int
    users: int
    items: int
    model: RankingMetrics
    popularity: RankingMetrics
    fit_seconds: float
    train_seconds: float
    user_ids: npt.NDArray[np.int64]  # the evaluated users, row order of the top-k matrices
    model_top_k: npt.NDArray[np.str_]  # (users, k) item ids, "" where fewer than k were left
    model_name: str = "lightfm"  # what was served: the winner of selection (or the pinned model)
    selection: dict[str, Any] | None = None  # Selection.summary() of the training run

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly numbers (without the per-user lists)."""
        out: dict[str, Any] = {
            "k": self.k,
            "users": self.users,
            "items": self.items,
            "chosen": self.model_name,
            "model": self.model.summary(self.k),
            "popularity": self.popularity.summary(self.k),
            "fit_seconds": round(self.fit_seconds, 3),
            "train_seconds": round(self.train_seconds, 3),
        }
        if self.selection is not None:
            out["selection"] = self.selection
        return out


def relevant_matrix(
    test: InteractionArrays, recommender: Recommender, min_rating: float | None
) -> tuple[npt.NDArray[np.int64], sp.csr_matrix]:
    """Test users the model knows (with at least one relevant item) and their relevant items.

    Items the user already has in training are dropped: they cannot be recommended, so counting them
    would only punish every model alike. Test items the model has never seen stay in (as misses).
    """
    art = recommender.artifact
    keep = np.ones(len(test), dtype=bool)
    if min_rating is not None:
        keep = (test.kinds == InteractionKind.RATED) & (test.values >= min_rating)
    rows = art.user_indices(test.user_ids[keep])
    items = art.item_indices(test.item_ids[keep].astype(np.str_))
    known_user = rows >= 0
    rows, items, unknown_ids = rows[known_user], items[known_user], test.item_ids[keep][known_user]
    # Items outside the model get columns past the catalog so they count as relevant but never hit.
    _, unknown_codes = np.unique(unknown_ids[items < 0].astype(np.str_), return_inverse=True)
    items[items < 0] = art.n_items + unknown_codes
    seen_rows = np.repeat(np.arange(art.n_users, dtype=np.int64), np.diff(art.seen.indptr))
    seen_keys = seen_rows * art.n_items + art.seen.indices
    in_train = (items < art.n_items) & np.isin(rows * art.n_items + items, seen_keys)
    rows, items = rows[~in_train], items[~in_train]
    users, user_pos = np.unique(rows, return_inverse=True)
    n_cols = art.n_items + int(unknown_codes.max(initial=-1)) + 1
    relevant = sp.csr_matrix(
        (np.ones(rows.shape[0], dtype=np.float32), (user_pos, items)), shape=(users.shape[0], n_cols)
    )
    relevant.sum_duplicates()
    return art.user_ids[users], relevant


def evaluate(
    train: InteractionArrays,
    test: InteractionArrays,
    *,
    config: EngineConfig,
    catalog: Sequence[CatalogItem] = (),
    k: int = 10,
    min_rating: float | None = None,
    spark: SparkOptions | None = None,
) -> EvaluationReport:
    """Train on ``train`` exactly as the service does (selection included), then rank all items for every test user.

    ``min_rating`` defines the relevant test items, and the validation items selection scores by;
    ``spark`` is where a ``spark_als`` candidate fits.
    """
    # Imported here: training imports selection, which imports this module for its metrics.
    from .train import train_model

    started = time.perf_counter()
    artifact = train_model(train, catalog, config, min_rating=min_rating, spark=spark)
    train_seconds = time.perf_counter() - started
    return evaluate_artifact(artifact, test, k=k, min_rating=min_rating, train_seconds=train_seconds)


def evaluate_artifact(
    artifact: ModelArtifact,
    test: InteractionArrays,
    *,
    k: int = 10,
    min_rating: float | None = None,
    train_seconds: float = float("nan"),
) -> EvaluationReport:
    """Metrics of a trained model (and of its popularity list) on ``test``; the model's users only."""
    recommender = Recommender(artifact)
    user_ids, relevant = relevant_matrix(test, recommender, min_rating)
    if user_ids.shape[0] == 0:
        raise InvalidData("no test user is in the training data with a relevant test item")
    model_top = recommender.recommend_batch(user_ids, k=k).item_indices
    popular_top = recommender.popular_batch(user_ids, k=k)
    item_ids = np.where(model_top >= 0, artifact.item_ids[np.maximum(model_top, 0)], "")
    return EvaluationReport(
        k=k,
        users=int(user_ids.shape[0]),
        items=artifact.n_items,
        model=ranking_metrics(model_top, relevant, k, artifact.n_items),
        popularity=ranking_metrics(popular_top, relevant, k, artifact.n_items),
        fit_seconds=float(artifact.metadata["fit_seconds"]),
        train_seconds=train_seconds,
        user_ids=user_ids,
        model_top_k=item_ids.astype(np.str_),
        model_name=str(artifact.metadata.get("candidate", artifact.metadata.get("model", "lightfm"))),
        selection=artifact.metadata.get("selection"),
    )


def ranking_metrics(top: npt.NDArray[np.int64], relevant: sp.csr_matrix, k: int, n_items: int) -> RankingMetrics:
    return RankingMetrics(
        precision=precision_at_k(top, relevant, k),
        recall=recall_at_k(top, relevant, k),
        ndcg=ndcg_at_k(top, relevant, k),
        coverage=catalog_coverage(top, n_items),
    )


def measure(
    recommender: Recommender, user_ids: npt.NDArray[np.int64], relevant: sp.csr_matrix, k: int
) -> RankingMetrics:
    """Metrics of a model's batch top-k for users whose relevant items are known (``relevant_matrix``)."""
    top = recommender.recommend_batch(user_ids, k=k).item_indices
    return ranking_metrics(top, relevant, k, recommender.artifact.n_items)


def holdout_auc(artifact: ModelArtifact, test: InteractionArrays, *, max_users: int = 1000, seed: int = 0) -> float:
    """Mean per-user ROC AUC of the test items against every other item the user has not seen.

    Full score rows are needed, so at most ``max_users`` test users (a seeded sample) are scored.
    """
    recommender = Recommender(artifact)
    user_ids, relevant = relevant_matrix(test, recommender, None)
    if user_ids.shape[0] == 0:
        raise InvalidData("no test user is in the training data with a relevant test item")
    if user_ids.shape[0] > max_users:
        keep = np.sort(np.random.default_rng(seed).choice(user_ids.shape[0], max_users, replace=False))
        user_ids, relevant = user_ids[keep], relevant[keep]
    # Test items the model never saw cannot be scored: AUC is over the model's catalog.
    relevant = relevant[:, : artifact.n_items]
    rows = artifact.user_indices(user_ids)
    scores = np.asarray(recommender.score_rows(rows), dtype=np.float32)
    candidates = np.ones(scores.shape, dtype=bool)
    for n, row in enumerate(rows.tolist()):
        candidates[n, artifact.seen.row(row)[0]] = False
    return auc(scores, relevant, candidates)


def evaluate_files(
    train_path: Path | str,
    test_path: Path | str,
    *,
    config: EngineConfig,
    k: int = 10,
    min_rating: float | None = None,
    top_k_out: Path | str | None = None,
) -> EvaluationReport:
    """``evaluate`` on two ratings files; optionally write the model's lists as ``user,item,rank`` rows."""
    users = UserCodes()
    train = read_ratings(train_path, users)
    test = read_ratings(test_path, users)
    report = evaluate(train, test, config=config, k=k, min_rating=min_rating)
    if top_k_out is not None:
        write_top_k(Path(top_k_out), report, users)
    return report


def write_top_k(path: Path, report: EvaluationReport, users: UserCodes) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["user", "item", "rank"])
        for user_id, items in zip(report.user_ids.tolist(), report.model_top_k.tolist(), strict=True):
            for rank, item in enumerate(items, start=1):
                if item:
                    writer.writerow([users.labels[user_id], item, rank])
