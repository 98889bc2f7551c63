"""The candidate models: each is fitted on an InteractionMatrix and assembled into a ModelArtifact.

- ``popularity``: no personalisation, the baseline (factor kind with no factors; scores = popularity);
- ``lightfm``: WARP matrix factorisation (factor kind), optionally with genre item features;
- ``als``: implicit's conjugate-gradient ALS, confidence = alpha * our interaction weight (factor kind);
- ``spark_als``: the same model fitted by Spark MLlib's implicit ALS (engine/spark.py; factor kind);
- ``ease``: the closed-form linear item-item model, sparsified (item-item kind); with ``rp3beta_weight``
  blended with RP3beta, and with ``ease_items`` over the most interacted items only (RP3beta scores the tail);
- ``rp3beta``: the sparse random-walk item-item model (engine/neighbourhood.py; item-item kind).

A ``Candidate`` is one point of a model's grid. ``fit_candidates`` yields every grid point of a model
that can share one fit (EASE's scoring settings reuse its weights, LightFM's epoch counts one run),
so selection scores them without refitting; the final refit is ``fit_candidate`` on all data.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..domain import CatalogItem, InteractionArrays
from . import ease, neighbourhood
from .artifact import FACTORS, ITEM_ITEM, ItemNeighbours, ModelArtifact, UserItems, new_version
from .config import EngineConfig
from .errors import EngineUnavailable, InvalidData
from .matrix import InteractionMatrix, item_feature_matrix
from .popularity import POPULAR_WINDOW_DAYS, popularity_scores, trending_scores
from .spark import SparkOptions, fit_spark_als

logger = logging.getLogger(__name__)

# Called after each LightFM training epoch with (epochs done, epochs in all).
EpochCallback = Callable[[int, int], None]
Params = dict[str, float]


@dataclass(frozen=True)
class Candidate:
    """One model with one setting of its grid, e.g. ``ease`` with ``{"lambda_scale": 5.0, ...}``."""

    model: str
    params: Params = field(default_factory=dict)

    @property
    def label(self) -> str:
        settings = ", ".join(f"{name}={value:g}" for name, value in sorted(self.params.items()))
        return f"{self.model}({settings})" if settings else self.model


@dataclass(frozen=True)
class Context:
    """What every fit needs besides the model's own settings."""

    matrix: InteractionMatrix
    arrays: InteractionArrays
    catalog: Sequence[CatalogItem]
    config: EngineConfig
    popularity_window_days: float = POPULAR_WINDOW_DAYS
    trained_at: datetime | None = None
    # Where ``spark_als`` runs; None: this training has no Spark (the candidate is unavailable).
    spark: SparkOptions | None = None


def load_lightfm() -> ModuleType:
    """Import LightFM only when training: serving and evaluation of saved models must not need it."""
    try:
        module = importlib.import_module("lightfm")
    except ImportError as exc:
        raise EngineUnavailable(f"LightFM cannot be imported: {exc}") from exc
    return module


def load_implicit_als() -> Any:
    try:
        module = importlib.import_module("implicit.cpu.als")
    except ImportError as exc:
        raise EngineUnavailable(f"implicit cannot be imported: {exc}") from exc
    return module.AlternatingLeastSquares


# --- factor models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FittedFactors:
    user_factors: npt.NDArray[np.float32]
    user_biases: npt.NDArray[np.float32]
    item_factors: npt.NDArray[np.float32]
    item_biases: npt.NDArray[np.float32]
    fit_seconds: float


def _reporting_epochs(on_epoch: EpochCallback, offset: int, total: int) -> Callable[..., Iterator[int]]:
    # LightFM runs all epochs of a call in one loop over ``self._progress(epochs, verbose)``: the one
    # point between epochs it lets us in at. (tests/engine/test_train.py notices if an upgrade removes it.)
    def epochs(n: int, verbose: bool = False) -> Iterator[int]:
        for epoch in range(n):
            yield epoch
            on_epoch(offset + epoch + 1, total)

    return epochs


def fit_lightfm(
    interactions: sp.coo_matrix,
    config: EngineConfig,
    item_features: sp.csr_matrix | None = None,
    *,
    checkpoints: Sequence[int] = (),
    on_epoch: EpochCallback | None = None,
) -> Iterator[tuple[int, FittedFactors]]:
    """Fit LightFM, yielding its per-item representations after each checkpoint (epochs done so far).

    One run serves a grid of epoch counts: ``fit_partial`` continues where the last call stopped.
    """
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
    stops = sorted(set(checkpoints or (config.epochs,)))
    done, seconds = 0, 0.0
    for stop in stops:
        if on_epoch is not None:
            model._progress = _reporting_epochs(on_epoch, done, stops[-1])  # shadows the static method
        started = time.perf_counter()
        # The weights are both the interaction values and the sample weights: WARP reads positives from
        # the former and scales each update by the latter.
        model.fit_partial(
            interactions,
            item_features=item_features,
            sample_weight=interactions,
            epochs=stop - done,
            num_threads=config.num_threads,
        )
        seconds += time.perf_counter() - started
        done = stop
        if item_features is None:
            item_biases, item_factors = model.item_biases, model.item_embeddings
        else:
            item_biases, item_factors = model.get_item_representations(item_features)
        yield (
            done,
            FittedFactors(
                user_factors=np.array(model.user_embeddings, dtype=np.float32),
                user_biases=np.array(model.user_biases, dtype=np.float32),
                item_factors=np.array(item_factors, dtype=np.float32),
                item_biases=np.array(item_biases, dtype=np.float32),
                fit_seconds=seconds,
            ),
        )


def fit_als(interactions: sp.csr_matrix, config: EngineConfig, *, factors: int, regularization: float,
            alpha: float) -> FittedFactors:  # fmt: skip
    """implicit's ALS with conjugate gradient; the confidence of a pair is ``alpha * weight``."""
    from threadpoolctl import threadpool_limits

    als_class = load_implicit_als()
    model = als_class(
        factors=factors,
        regularization=regularization,
        alpha=alpha,
        iterations=config.als_iterations,
        use_cg=True,
        num_threads=config.num_threads,
        random_state=config.random_seed,
    )
    started = time.perf_counter()
    # implicit parallelises over users itself; a multi-threaded BLAS inside each of its threads made a
    # fit several times slower (implicit warns about it), so BLAS is one thread for the fit.
    with threadpool_limits(1, "blas"):
        model.fit(sp.csr_matrix(interactions, dtype=np.float32), show_progress=False)
    seconds = time.perf_counter() - started
    return FittedFactors(
        user_factors=np.ascontiguousarray(model.user_factors, dtype=np.float32),
        user_biases=np.zeros(interactions.shape[0], dtype=np.float32),
        item_factors=np.ascontiguousarray(model.item_factors, dtype=np.float32),
        item_biases=np.zeros(interactions.shape[1], dtype=np.float32),
        fit_seconds=seconds,
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
    return FittedFactors(
        user_factors=fitted.user_factors,
        user_biases=fitted.user_biases,
        item_factors=item_factors.astype(np.float32),
        item_biases=item_biases.astype(np.float32),
        fit_seconds=fitted.fit_seconds,
    )


# --- the candidates, fitted -------------------------------------------------------------------------


def _positives(ctx: Context) -> sp.coo_matrix:
    interactions = ctx.matrix.positives()
    if interactions.nnz == 0:
        raise InvalidData("no interaction is a positive (only dislikes, low ratings or zero weights)")
    return interactions


def lightfm_checkpoints(config: EngineConfig) -> tuple[int, ...]:
    """The LightFM grid: one run scored half-way and at its end."""
    return tuple(sorted({max(config.epochs // 2, 1), config.epochs}))


def fit_lightfm_candidates(
    ctx: Context, *, checkpoints: Sequence[int], on_epoch: EpochCallback | None = None
) -> Generator[tuple[Candidate, ModelArtifact], None, None]:
    config = ctx.config
    interactions = _positives(ctx)
    features, genre_names = (None, np.empty(0, dtype=np.str_))
    if config.use_item_features:
        features, genre_names = item_feature_matrix(ctx.matrix.item_ids, ctx.catalog)
    for epochs, trained in fit_lightfm(interactions, config, features, checkpoints=checkpoints, on_epoch=on_epoch):
        fitted = trained
        if not config.use_item_features and config.cold_items_from_genres:
            fitted = genre_cold_start(trained, ctx.matrix.item_ids, interactions, ctx.catalog)
        candidate = Candidate("lightfm", {"epochs": float(epochs)})
        yield candidate, assemble_factors(ctx, candidate, fitted, genre_names=genre_names)


def fit_als_candidate(ctx: Context, candidate: Candidate) -> ModelArtifact:
    """implicit's ALS; with ``rp3beta_weight`` blended with RP3beta (z(ALS) + w z(RP3beta), per user)."""
    interactions = _positives(ctx)
    fitted = fit_als(
        sp.csr_matrix(interactions),
        ctx.config,
        factors=int(candidate.params["factors"]),
        regularization=candidate.params["regularization"],
        alpha=candidate.params["alpha"],
    )
    artifact = _als_artifact(ctx, candidate, interactions, fitted)
    if candidate.params.get("rp3beta_weight", 0.0) > 0:
        artifact = with_item_item(artifact, rp3beta_weights(ctx, candidate.params))
    return artifact


def with_item_item(artifact: ModelArtifact, weights: sp.csr_matrix) -> ModelArtifact:
    """A factor model carrying item-item weights to blend with (its scoring's ``rp3beta_weight``)."""
    neighbours = ItemNeighbours(
        indptr=weights.indptr.astype(np.int64), indices=weights.indices.astype(np.int32),
        weights=weights.data.astype(np.float32),
    )  # fmt: skip
    return dataclasses.replace(artifact, neighbours=neighbours)


def _als_artifact(ctx: Context, candidate: Candidate, interactions: sp.coo_matrix,
                  fitted: FittedFactors) -> ModelArtifact:  # fmt: skip
    """Either ALS's factors with cold items placed by genre, assembled into the served artifact."""
    if ctx.config.cold_items_from_genres:
        fitted = genre_cold_start(fitted, ctx.matrix.item_ids, interactions, ctx.catalog)
    return assemble_factors(ctx, candidate, fitted)


def fit_spark_als_candidate(ctx: Context, candidate: Candidate) -> ModelArtifact:
    """ALS on Spark: the same positives, cold-item placement and assembly as ``fit_als_candidate``."""
    if ctx.spark is None:
        raise EngineUnavailable("spark_als needs Spark: set RECOMMENDATIONS_TRAINER and SPARK_MASTER_URL")
    interactions = _positives(ctx)
    factors = int(candidate.params["factors"])
    trained = fit_spark_als(
        interactions, ctx.spark, factors=factors, regularization=candidate.params["regularization"],
        alpha=candidate.params["alpha"], iterations=ctx.config.als_iterations, seed=ctx.config.random_seed,
    )  # fmt: skip
    fitted = FittedFactors(
        user_factors=trained.user_factors,
        user_biases=np.zeros(interactions.shape[0], dtype=np.float32),
        item_factors=trained.item_factors,
        item_biases=np.zeros(interactions.shape[1], dtype=np.float32),
        fit_seconds=trained.fit_seconds,
    )
    return _als_artifact(ctx, candidate, interactions, fitted)


def ease_gram(ctx: Context, *, head_items: int | None = None) -> ease.Gram:
    return ease.gram(sp.csr_matrix(_positives(ctx)), max_items=ctx.config.ease_max_items, head_items=head_items)


def rp3beta_weights(ctx: Context, params: Params) -> sp.csr_matrix:
    return neighbourhood.rp3beta(
        sp.csr_matrix(_positives(ctx)), alpha=params["rp3beta_alpha"], beta=params["rp3beta_beta"],
        neighbours=ctx.config.rp3beta_neighbours,
    )  # fmt: skip


def fit_rp3beta_candidate(ctx: Context, candidate: Candidate) -> ModelArtifact:
    """RP3beta weights (alpha, beta from params); scoring settings from params, as for EASE."""
    started = time.perf_counter()
    weights = rp3beta_weights(ctx, candidate.params)
    return assemble_item_item(ctx, candidate, weights, fit_seconds=time.perf_counter() - started)


def ease_weights(ctx: Context, params: Params, gram: ease.Gram | None = None) -> tuple[sp.csr_matrix, float]:
    """EASE weights for ``lambda_scale`` (times the mean Gram diagonal), sparsified, cold items by genre."""
    head = int(params["ease_items"]) if "ease_items" in params else None
    g = gram if gram is not None else ease_gram(ctx, head_items=head)
    lam = params["lambda_scale"] * g.mean_diagonal
    dense = ease.solve(g, lam)
    config = ctx.config
    n_items = ctx.matrix.shape[1]
    weights = ease.sparsify(
        dense, g.warm, n_items, neighbours=config.ease_neighbours, minimum=config.ease_min_neighbours
    )
    del dense
    if config.cold_items_from_genres and g.warm.shape[0] < n_items and head is None:
        weights = ease.genre_cold_start(
            weights,
            ctx.matrix.item_ids,
            g.warm,
            ctx.catalog,
            neighbours=config.ease_neighbours,
            warm_counts=g.counts,
            column_weight=config.cold_item_weight,
        )
    return weights, lam


def row_scale(weights: sp.csr_matrix) -> float:
    """The mean L1 norm of a weight matrix's non-empty rows: what one history item adds, on average."""
    sums = np.asarray(abs(weights).sum(axis=1)).ravel()
    sums = sums[sums > 0]
    return float(sums.mean()) if sums.shape[0] else 1.0


def blended(first: sp.csr_matrix, second: sp.csr_matrix, weight: float) -> sp.csr_matrix:
    """``first / scale + weight * second / scale``: two item-item models as one neighbour matrix.

    Scores are linear in the neighbour matrix, so the blend of the two models' scores is served by one
    matrix and every serving feature (fold-in of a new like, reasons, similar items) works unchanged.
    """
    out = sp.csr_matrix(first / row_scale(first) + second * (weight / row_scale(second)), dtype=np.float32)
    out.eliminate_zeros()
    out.sort_indices()
    return out


def fit_ease_candidate(
    ctx: Context,
    candidate: Candidate,
    gram: ease.Gram | None = None,
    *,
    rp3beta: sp.csr_matrix | None = None,
) -> ModelArtifact:
    """EASE (or EASE blended with RP3beta, ``rp3beta_weight``); scoring settings from params.

    ``rp3beta`` reuses weights already fitted with the candidate's ``rp3beta_alpha``/``rp3beta_beta``.
    """
    started = time.perf_counter()
    weights, lam = ease_weights(ctx, candidate.params, gram)
    blend = candidate.params.get("rp3beta_weight", 0.0)
    if blend > 0 or "ease_items" in candidate.params:
        tail = rp3beta if rp3beta is not None else rp3beta_weights(ctx, candidate.params)
        weights = blended(weights, tail, blend)
    return assemble_item_item(ctx, candidate, weights, fit_seconds=time.perf_counter() - started, lam=lam)


def with_scoring(artifact: ModelArtifact, candidate: Candidate) -> ModelArtifact:
    """The same item-item weights with other scoring settings (recency, popularity blend): no refit."""
    metadata = {**artifact.metadata, "scoring": _scoring(candidate), "candidate": candidate.label,
                "params": dict(candidate.params)}  # fmt: skip
    return dataclasses.replace(artifact, metadata=metadata)


def fit_popularity_candidate(ctx: Context, candidate: Candidate) -> ModelArtifact:
    """Everyone gets the popular list (minus what they have seen): the baseline, also a servable model."""
    n_users, n_items = ctx.matrix.shape
    fitted = FittedFactors(
        user_factors=np.zeros((n_users, 0), dtype=np.float32),
        user_biases=np.zeros(n_users, dtype=np.float32),
        item_factors=np.zeros((n_items, 0), dtype=np.float32),
        item_biases=np.zeros(n_items, dtype=np.float32),
        fit_seconds=0.0,
    )
    window = candidate.params.get("window_days", ctx.popularity_window_days)
    return assemble_factors(dataclasses.replace(ctx, popularity_window_days=window), candidate, fitted)


def fit_candidate(ctx: Context, candidate: Candidate, *, on_epoch: EpochCallback | None = None) -> ModelArtifact:
    """Fit one grid point from scratch (the final refit on all data)."""
    if candidate.model == "popularity":
        return fit_popularity_candidate(ctx, candidate)
    if candidate.model == "ease":
        return fit_ease_candidate(ctx, candidate)
    if candidate.model == "rp3beta":
        return fit_rp3beta_candidate(ctx, candidate)
    if candidate.model == "als":
        return fit_als_candidate(ctx, candidate)
    if candidate.model == "spark_als":
        return fit_spark_als_candidate(ctx, candidate)
    if candidate.model == "lightfm":
        epochs = int(candidate.params.get("epochs", ctx.config.epochs))
        *_, (_, artifact) = fit_lightfm_candidates(ctx, checkpoints=(epochs,), on_epoch=on_epoch)
        return artifact
    raise InvalidData(f"unknown model {candidate.model!r}")


# --- assembly ------------------------------------------------------------------------------------------


def _scoring(candidate: Candidate) -> dict[str, float]:
    return {
        "history_half_life_days": float(candidate.params.get("history_half_life_days", 0.0)),
        "popularity_blend": float(candidate.params.get("popularity_blend", 0.0)),
        # A factor model's blend with the item-item weights it carries (an EASE blend is in its matrix).
        "rp3beta_weight": float(candidate.params.get("rp3beta_weight", 0.0)),
    }


def _common(ctx: Context, candidate: Candidate, *, kind: str, fit_seconds: float) -> dict[str, Any]:
    """Metadata and the arrays both kinds share."""
    matrix, arrays = ctx.matrix, ctx.arrays
    trained_at = ctx.trained_at or datetime.now(UTC)
    seen = matrix.seen
    # Every event counts for popularity (not only the deduplicated pairs), as in the data service.
    event_items = np.searchsorted(matrix.item_ids, arrays.item_ids)
    metadata: dict[str, Any] = {
        "version": new_version(trained_at),
        "trained_at": trained_at.isoformat(),
        "kind": kind,
        "model": candidate.model,
        "candidate": candidate.label,
        "params": dict(candidate.params),
        "engine": candidate.model,
        "counts": {
            "users": matrix.shape[0],
            "items": matrix.shape[1],
            "events": len(arrays),
            "pairs": int(seen.nnz),
            "positives": int((seen.data > 0).sum()),
        },
        "rating_scale": matrix.rating_scale,
        "popularity": {"window_days": ctx.popularity_window_days},
        "scoring": _scoring(candidate),
        "fit_seconds": round(fit_seconds, 3),
        "metrics": {},
        "config": ctx.config.to_dict(),
    }
    return {
        "user_ids": matrix.user_ids,
        "item_ids": matrix.item_ids,
        "popularity": popularity_scores(
            event_items, arrays.kinds, arrays.timestamps, matrix.shape[1], window_days=ctx.popularity_window_days
        ),
        "trending": trending_scores(event_items, arrays.kinds, arrays.timestamps, matrix.shape[1]),
        "seen": UserItems(
            indptr=seen.indptr.astype(np.int64),
            indices=seen.indices.astype(np.int32),
            weights=seen.data.astype(np.float32),
            timestamps=matrix.seen_timestamps.astype(np.int64),
        ),
        "metadata": metadata,
    }


def assemble_factors(
    ctx: Context, candidate: Candidate, fitted: FittedFactors, *, genre_names: npt.NDArray[np.str_] | None = None
) -> ModelArtifact:
    common = _common(ctx, candidate, kind=FACTORS, fit_seconds=fitted.fit_seconds)
    lengths = np.linalg.norm(fitted.user_factors, axis=1) if fitted.user_factors.shape[1] else np.zeros(1)
    common["metadata"]["user_vector_length"] = float(lengths.mean()) if lengths.size else 0.0
    return ModelArtifact(
        user_factors=fitted.user_factors,
        user_biases=fitted.user_biases,
        item_factors=fitted.item_factors,
        item_biases=fitted.item_biases,
        item_norms=np.linalg.norm(fitted.item_factors, axis=1).astype(np.float32),
        feature_names=genre_names if genre_names is not None else np.empty(0, dtype=np.str_),
        **common,
    )


def with_similar(artifact: ModelArtifact, ctx: Context) -> ModelArtifact:
    """A factor model (popularity included) with its item-kNN of co-occurrence for similar items."""
    if artifact.kind == ITEM_ITEM:
        return artifact
    knn = neighbourhood.item_knn(sp.csr_matrix(ctx.matrix.positives()), neighbours=ctx.config.similar_neighbours)
    similar = ItemNeighbours(
        indptr=knn.indptr.astype(np.int64), indices=knn.indices.astype(np.int32), weights=knn.data.astype(np.float32)
    )
    return dataclasses.replace(artifact, similar=similar)


def assemble_item_item(
    ctx: Context, candidate: Candidate, weights: sp.csr_matrix, *, fit_seconds: float, lam: float | None = None
) -> ModelArtifact:
    common = _common(ctx, candidate, kind=ITEM_ITEM, fit_seconds=fit_seconds)
    n_users, n_items = ctx.matrix.shape
    common["metadata"]["user_vector_length"] = 0.0
    common["metadata"]["neighbours"] = int(weights.nnz)
    if lam is not None:
        common["metadata"]["ease"] = {"lambda": round(lam, 4), "neighbours": int(weights.nnz)}
    return ModelArtifact(
        user_factors=np.zeros((n_users, 0), dtype=np.float32),
        user_biases=np.zeros(n_users, dtype=np.float32),
        item_factors=np.zeros((n_items, 0), dtype=np.float32),
        item_biases=np.zeros(n_items, dtype=np.float32),
        item_norms=np.zeros(n_items, dtype=np.float32),
        feature_names=np.empty(0, dtype=np.str_),
        neighbours=ItemNeighbours(
            indptr=weights.indptr.astype(np.int64),
            indices=weights.indices.astype(np.int32),
            weights=weights.data.astype(np.float32),
        ),
        **common,
    )
