"""Model selection on evidence: fit every candidate on the older part of the data, keep the best.

At every training run, per content type:

1. Split: where the data has timestamps, one global time cut (the newest ``validation_time_fraction``
   of events is the validation set, as a model trained tonight is judged on tomorrow's events); where
   it has none, a random ``validation_random_fraction`` of each user's events.
2. Popularity first, with each window of ``popularity_windows_days``: the best window is what cold
   users get, and the baseline every candidate must beat.
3. Each candidate's grid (EASE lambda, then its history half-life and popularity blend; ALS factors x
   regularisation x alpha; LightFM epochs), within ``training_budget_s`` (engine/budget.py), which
   covers the whole training, the winner's refit included: a grid point whose estimated validation
   fit plus refit no longer fits is skipped with the reason logged and recorded. EASE is skipped (with
   its reason) for catalogs above ``ease_max_items``, before any memory is allocated.
4. Full-ranking ndcg@k of each on the validation users (at most ``max_validation_users``, a seeded
   sample; their training items excluded), through the serving code (``Recommender.recommend_batch``),
   so what is measured is what would be served.
5. The winner is the best ndcg@k (popularity included); ``train_model`` refits it on all data.

A pinned model (``pinned_models``) restricts step 3 to that model and makes it the winner even when
popularity scores better; its grid is still searched.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from ..domain import CatalogItem, InteractionArrays, InteractionKind
from .artifact import ModelArtifact
from .budget import Budget, Cost, Sizes
from .candidates import (
    Candidate,
    Context,
    ease_gram,
    fit_als_candidate,
    fit_ease_candidate,
    fit_lightfm_candidates,
    fit_popularity_candidate,
    fit_spark_als_candidate,
    lightfm_checkpoints,
    with_scoring,
)
from .config import EngineConfig
from .errors import EngineError, InvalidData
from .evaluation import RankingMetrics, holdout_auc, measure, relevant_matrix
from .matrix import InteractionMatrix, build_interaction_matrix, event_weights, rating_scale
from .serving import Recommender
from .spark import SparkOptions
from .splits import global_time_split, random_split, take, time_split

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trial:
    """One grid point on the validation split: its metrics, or why it was not run."""

    candidate: Candidate
    metrics: RankingMetrics | None
    seconds: float
    skipped: str | None = None

    def summary(self, k: int) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.candidate.model, "candidate": self.candidate.label,
                               "params": dict(self.candidate.params), "seconds": round(self.seconds, 3)}  # fmt: skip
        if self.metrics is not None:
            out["metrics"] = self.metrics.summary(k)
        if self.skipped is not None:
            out["skipped"] = self.skipped
        return out


@dataclass(frozen=True)
class Selection:
    winner: Candidate
    reason: str
    split: str  # "time", "time per user", "random" or "none"
    k: int
    trials: tuple[Trial, ...]
    popularity_window_days: float
    seconds: float
    validation_users: int = 0
    auc: float | None = None
    pinned: str | None = None
    winner_metrics: RankingMetrics | None = None
    popularity_metrics: RankingMetrics | None = None
    # training_budget_s, the seconds selection took, and the refit estimate it kept in reserve.
    budget: dict[str, float] | None = None

    def best_of(self, model: str) -> Trial | None:
        """The best measured trial of one model (None if none of its grid points ran)."""
        measured = [t for t in self.trials if t.candidate.model == model and t.metrics is not None]
        return max(measured, key=lambda t: t.metrics.ndcg if t.metrics else -1.0, default=None)

    def summary(self) -> dict[str, Any]:
        """JSON for the TrainingLog, the model metadata and the status endpoint."""
        best = {}
        for model in dict.fromkeys(t.candidate.model for t in self.trials):
            trial = self.best_of(model)
            metrics = trial.metrics.summary(self.k) if trial is not None and trial.metrics else {}
            best[model] = None if trial is None else {"candidate": trial.candidate.label, **metrics}
        return {
            "winner": self.winner.model,
            "candidate": self.winner.label,
            "params": dict(self.winner.params),
            "reason": self.reason,
            "pinned": self.pinned,
            "split": self.split,
            "k": self.k,
            "validation_users": self.validation_users,
            "popularity_window_days": self.popularity_window_days,
            "seconds": round(self.seconds, 3),
            "budget": dict(self.budget or {}),
            "best_per_model": best,
            "trials": [t.summary(self.k) for t in self.trials],
        }


def validation_split(
    arrays: InteractionArrays, config: EngineConfig, *, min_rating: float | None = None
) -> tuple[str, InteractionArrays, InteractionArrays]:
    """(split name, older part, newer part); see the module docstring.

    A global time cut whose newer part has fewer than ``min_validation_users`` users who are also in
    the older part with a relevant item falls back to each user's latest events ("time per user").
    """
    if not has_timestamps(arrays):
        train, test = random_split(arrays, config.validation_random_fraction, seed=config.random_seed)
        return "random", train, test
    train, test = global_time_split(arrays, config.validation_time_fraction)
    relevant = _relevant_part(test, config, rating_scale(arrays), min_rating)
    users = np.intersect1d(np.unique(relevant.user_ids), np.unique(train.user_ids)).shape[0]
    if users >= config.min_validation_users:
        return "time", train, test
    logger.info("selection: a global time cut leaves %d validation users; cutting each user's history", users)
    train, test = time_split(arrays, config.validation_random_fraction)
    return "time per user", train, test


def has_timestamps(arrays: InteractionArrays) -> bool:
    """False for data whose events all carry one time (a file without a timestamp column)."""
    return len(arrays) > 0 and int(arrays.timestamps.min()) != int(arrays.timestamps.max())


def _relevant_part(
    test: InteractionArrays, config: EngineConfig, scale: float, min_rating: float | None
) -> InteractionArrays:
    """Validation events that count as hits: rated >= min_rating if given, else the training positives."""
    if min_rating is not None:
        keep = (test.kinds == InteractionKind.RATED) & (test.values >= min_rating)
    else:
        keep = event_weights(test.kinds, test.values, config, scale) > 0
    return take(test, keep)


def catalog_extras(catalog: Sequence[CatalogItem], config: EngineConfig) -> list[str]:
    """Catalog items that get a column without interactions (cold items the model can still place)."""
    if config.use_item_features:
        return [item.item_id for item in catalog]
    if config.cold_items_from_genres:
        return [item.item_id for item in catalog if item.genres]
    return []


def _sizes(arrays: InteractionArrays, test: InteractionArrays, matrix: InteractionMatrix,
           config: EngineConfig) -> Sizes:  # fmt: skip
    """The sizes the cost estimates need; those of all data (the refit) without building its matrix."""
    positive = matrix.seen.data > 0
    warm = np.zeros(matrix.shape[1], dtype=bool)
    warm[matrix.seen.indices[positive]] = True
    # Items positive in the newer part that are not warm in the older part become warm in the refit.
    newer = np.unique(test.item_ids[event_weights(test.kinds, test.values, config, matrix.rating_scale) > 0])
    column = np.minimum(np.searchsorted(matrix.item_ids, newer), matrix.shape[1] - 1)
    known_warm = (matrix.item_ids[column] == newer) & warm[column]
    events = len(arrays) - len(test)
    return Sizes(
        events=events,
        events_all=len(arrays),
        positives=int(positive.sum()),
        warm_items=int(warm.sum()),
        warm_items_all=int(warm.sum()) + int((~known_warm).sum()),
        items=matrix.shape[1],
    )


class _Run:
    """The state of one selection: the budget, the validation users, the trials so far."""

    def __init__(self, ctx: Context, test: InteractionArrays, k: int, budget: Budget, pinned: str | None) -> None:
        self.ctx = ctx
        self.k = k
        self.budget = budget
        self.pinned = pinned
        self.trials: list[Trial] = []
        self.refits: dict[str, float] = {}  # by candidate label: its refit estimate
        self.artifacts: dict[str, ModelArtifact] = {}  # by candidate label
        self.test = test
        self.user_ids = np.empty(0, dtype=np.int64)
        self.relevant: Any = None

    def affords(self, candidate: Candidate, cost: Cost) -> bool:
        """True if the budget has room for ``cost``; otherwise records ``candidate`` as skipped."""
        if self.budget.fits(cost):
            return True
        self.skip(candidate, self.budget.shortfall(cost))
        return False

    def skip(self, candidate: Candidate, reason: str) -> None:
        logger.info("selection: %s skipped: %s", candidate.label, reason)
        self.trials.append(Trial(candidate, None, 0.0, reason))

    def _validation_users(self, artifact: ModelArtifact) -> None:
        self.user_ids, self.relevant = relevant_matrix(self.test, Recommender(artifact), None)
        if self.user_ids.shape[0] == 0:
            raise InvalidData("no validation user is in the older part with a relevant item")
        cap = self.ctx.config.max_validation_users
        if self.user_ids.shape[0] > cap:
            rng = np.random.default_rng(self.ctx.config.random_seed)
            keep = np.sort(rng.choice(self.user_ids.shape[0], cap, replace=False))
            self.user_ids, self.relevant = self.user_ids[keep], self.relevant[keep]

    def score(self, candidate: Candidate, artifact: ModelArtifact, fit_s: float, refit_s: float) -> RankingMetrics:
        """Measure one fitted grid point; ``refit_s`` is its estimated refit, reserved if it is the new best."""
        if self.relevant is None:
            self._validation_users(artifact)
        started = time.perf_counter()
        metrics = measure(Recommender(artifact), self.user_ids, self.relevant, self.k)
        scoring_s = time.perf_counter() - started
        self.budget.learn_scoring(candidate.model, scoring_s)
        trial = Trial(candidate, metrics, fit_s + scoring_s)
        self.trials.append(trial)
        self.artifacts[candidate.label] = artifact
        self.refits[candidate.label] = refit_s
        served = self.best(self.pinned)
        if served is not None:
            self.budget.reserve(self.refits[served.candidate.label])
        logger.info("selection: %s ndcg@%d %.4f (%.1fs)", candidate.label, self.k, metrics.ndcg, trial.seconds)
        return metrics

    def best(self, model: str | None = None) -> Trial | None:
        measured = [t for t in self.trials if t.metrics is not None and (model is None or t.candidate.model == model)]
        # max() keeps the first of equal scores: earlier grid points are the documented defaults.
        return max(measured, key=lambda t: t.metrics.ndcg if t.metrics else -1.0, default=None)


def _timed(fit: Callable[[], ModelArtifact]) -> tuple[ModelArtifact, float]:
    started = time.perf_counter()
    artifact = fit()
    return artifact, time.perf_counter() - started


def _select_popularity(run: _Run, *, timestamps: bool, matrix_s: float) -> float:
    """Score each window; without timestamps every window is the same list, so only the first runs.

    The first fit also times what every refit repeats on all data: the matrix (``matrix_s``, built
    before) and the assembly of an artifact (popularity, trending, seen items).
    """
    windows = run.ctx.config.popularity_windows_days
    for window in windows if timestamps else windows[:1]:
        candidate = Candidate("popularity", {"window_days": window})
        artifact, seconds = _timed(partial(fit_popularity_candidate, run.ctx, candidate))
        if run.budget.refit_overhead_s == 0.0:
            run.budget.learn_refit_overhead(matrix_s + seconds)
        run.score(candidate, artifact, seconds, run.budget.popularity().refit_s)
    best = run.best("popularity")
    assert best is not None
    return best.candidate.params["window_days"]


def _select_ease(run: _Run) -> None:
    config = run.ctx.config
    sizes = run.budget.sizes
    first = Candidate("ease", {"lambda_scale": config.ease_lambda_scales[0]})
    if max(sizes.warm_items, sizes.warm_items_all) > config.ease_max_items:
        n_items = max(sizes.warm_items, sizes.warm_items_all)
        run.skip(first, f"catalog of {n_items} items exceeds ease_max_items={config.ease_max_items}")
        return
    if not run.affords(first, run.budget.ease()):
        return
    gram = ease_gram(run.ctx)
    for scale in config.ease_lambda_scales:
        candidate = Candidate("ease", {"lambda_scale": scale})
        cost = run.budget.ease()
        if candidate != first and not run.affords(candidate, cost):
            continue
        artifact, seconds = _timed(partial(fit_ease_candidate, run.ctx, candidate, gram))
        run.budget.learn_fit("ease", seconds, run.budget.ease_fit())
        run.score(candidate, artifact, seconds, cost.refit_s)
    del gram
    best = run.best("ease")
    if best is None:
        return
    base = run.artifacts[best.candidate.label]
    # Scoring settings reuse the weights: no refit, one scoring pass each. Fading by age needs
    # timestamps: without them every half-life scores as "off", so none is tried.
    half_lives = config.history_half_lives_days if has_timestamps(run.ctx.arrays) else ()
    for name, grid in (("history_half_life_days", half_lives), ("popularity_blend", config.popularity_blends)):
        for value in grid:
            candidate = Candidate("ease", {**best.candidate.params, name: value})
            if candidate.label in run.artifacts or (value == 0 and name not in best.candidate.params):
                continue
            cost = run.budget.ease_rescoring()
            if run.affords(candidate, cost):
                run.score(candidate, with_scoring(base, candidate), 0.0, cost.refit_s)
        best = run.best("ease")
        assert best is not None


def _select_als(run: _Run, model: str = "als") -> None:
    """The ALS grid (factors x regularisations x alphas), fitted by implicit or, as ``spark_als``, on Spark.

    Spark's MLlib has its own regularisation grid (engine/spark.py says why), costs and fit.
    """
    config = run.ctx.config
    on_spark = model == "spark_als"
    regularizations = config.spark_als_regularizations if on_spark else config.als_regularizations
    fit_fn = fit_spark_als_candidate if on_spark else fit_als_candidate
    for factors, regularization, alpha in itertools.product(config.als_factors, regularizations, config.als_alphas):
        candidate = Candidate(model, {"factors": float(factors), "regularization": regularization, "alpha": alpha})
        budget, iterations = run.budget, config.als_iterations
        cost = budget.spark_als(factors, iterations) if on_spark else budget.als(factors, iterations)
        if not run.affords(candidate, cost):
            continue
        artifact, seconds = _timed(partial(fit_fn, run.ctx, candidate))
        estimate = budget.spark_als_fit(factors, iterations) if on_spark else budget.als_fit(factors, iterations)
        budget.learn_fit(model, seconds, estimate)
        run.score(candidate, artifact, seconds, cost.refit_s)


def _select_lightfm(run: _Run) -> None:
    """One LightFM run scored at each checkpoint; it stops where the next stretch no longer fits."""
    checkpoints = lightfm_checkpoints(run.ctx.config)
    done = 0
    fits: Generator[tuple[Candidate, ModelArtifact], None, None] | None = None
    try:
        for stop in checkpoints:
            candidate = Candidate("lightfm", {"epochs": float(stop)})
            cost = run.budget.lightfm(stop - done, stop)
            if not run.affords(candidate, cost):
                return
            started = time.perf_counter()
            fits = fits or fit_lightfm_candidates(run.ctx, checkpoints=checkpoints)
            fitted, artifact = next(fits)
            assert fitted == candidate
            seconds = time.perf_counter() - started
            run.budget.learn_fit("lightfm", seconds, run.budget.lightfm_fit(stop - done))
            run.score(candidate, artifact, seconds, cost.refit_s)
            done = stop
    finally:
        if fits is not None:
            fits.close()


SELECTORS: dict[str, Callable[[_Run], None]] = {
    "ease": _select_ease, "als": _select_als, "lightfm": _select_lightfm,
    "spark_als": partial(_select_als, model="spark_als"),
}  # fmt: skip


def default_candidate(model: str, config: EngineConfig) -> Candidate:
    """A model's first grid point: what is served when there is no evidence to choose by."""
    if model == "ease":
        return Candidate("ease", {"lambda_scale": config.ease_lambda_scales[0]})
    if model in ("als", "spark_als"):
        regularizations = config.spark_als_regularizations if model == "spark_als" else config.als_regularizations
        params = {"factors": float(config.als_factors[0]), "regularization": regularizations[0]}
        return Candidate(model, {**params, "alpha": config.als_alphas[0]})
    if model == "lightfm":
        return Candidate("lightfm", {"epochs": float(config.epochs)})
    return Candidate("popularity", {"window_days": config.popularity_windows_days[0]})


def select_model(
    arrays: InteractionArrays,
    catalog: Sequence[CatalogItem],
    config: EngineConfig,
    *,
    content_type: str | None = None,
    min_rating: float | None = None,
    k: int = 10,
    spark: SparkOptions | None = None,
) -> Selection:
    """Choose the model (and its settings) to serve for these interactions; see the module docstring."""
    started = time.perf_counter()
    pinned = config.pinned_model(content_type)
    models = [pinned] if pinned is not None else [m for m in config.candidates if m != "popularity"]
    split, train, test = validation_split(arrays, config, min_rating=min_rating)
    try:
        building = time.perf_counter()
        matrix = build_interaction_matrix(train, config, extra_item_ids=catalog_extras(catalog, config),
                                          scale=rating_scale(arrays))  # fmt: skip
        matrix_s = time.perf_counter() - building
        ctx = Context(matrix=matrix, arrays=train, catalog=catalog, config=config, spark=spark)
        budget = Budget(config.training_budget_s, _sizes(arrays, test, matrix, config), started=started)
        run = _Run(ctx, _relevant_part(test, config, matrix.rating_scale, min_rating), k, budget, pinned)
        window = _select_popularity(run, timestamps=has_timestamps(arrays), matrix_s=matrix_s)
    except InvalidData as exc:
        return _without_evidence(models, pinned, config, k=k, why=str(exc), seconds=time.perf_counter() - started)
    run.ctx = replace(ctx, popularity_window_days=window)
    for model in models:
        if model == "popularity":
            continue
        try:
            SELECTORS[model](run)
        except EngineError as exc:
            # A candidate that cannot run here (its library missing, a singular Gram matrix) loses; the
            # others still compete. Recorded as skipped with the reason.
            run.skip(default_candidate(model, config), f"{exc.__class__.__name__}: {exc}")
    return _selected(run, split=split, window=window, started=started)


def _selected(run: _Run, *, split: str, window: float, started: float) -> Selection:
    config, k, pinned = run.ctx.config, run.k, run.pinned
    best = run.best(pinned)
    popularity = run.best("popularity")
    assert popularity is not None
    if best is None:
        assert pinned is not None
        winner, reason = default_candidate(pinned, config), "pinned; no grid point could be measured"
        logger.warning("selection: pinned %s has no measured grid point; its refit is outside the budget", pinned)
    else:
        winner = best.candidate
        reason = "pinned" if pinned is not None else f"best ndcg@{k} on validation"
    if winner.model != "popularity" and "window_days" in winner.params:
        winner = Candidate(winner.model, {n: v for n, v in winner.params.items() if n != "window_days"})
    auc = _winner_auc(run, best)
    selection = Selection(
        winner=winner, reason=reason, split=split, k=k, trials=tuple(run.trials), popularity_window_days=window,
        seconds=time.perf_counter() - started, validation_users=int(run.user_ids.shape[0]), auc=auc, pinned=pinned,
        winner_metrics=best.metrics if best is not None else None, popularity_metrics=popularity.metrics,
        budget=run.budget.summary(),
    )  # fmt: skip
    logger.info("selection: serving %s (%s) after %.1fs", winner.label, reason, selection.seconds)
    return selection


def _winner_auc(run: _Run, best: Trial | None) -> float | None:
    if best is None:
        return None
    try:
        value = holdout_auc(run.artifacts[best.candidate.label], run.test)
    except InvalidData:
        return None
    return value if math.isfinite(value) else None


def _without_evidence(
    models: Sequence[str], pinned: str | None, config: EngineConfig, *, k: int, why: str, seconds: float
) -> Selection:
    """Too little data for a validation split (a new deployment): serve the first candidate, untested."""
    model = pinned or (models[0] if models else "popularity")
    logger.warning("selection: no validation possible (%s): serving %s untested", why, model)
    return Selection(
        winner=default_candidate(model, config), reason=f"no validation possible: {why}", split="none", k=k,
        trials=(), popularity_window_days=config.popularity_windows_days[0], seconds=seconds, pinned=pinned,
    )  # fmt: skip
