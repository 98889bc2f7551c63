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
from .artifact import ItemNeighbours, ModelArtifact
from .budget import Budget, Cost, Sizes, ease_fit_seconds
from .candidates import (
    Candidate,
    Context,
    assemble_item_item,
    blended,
    ease_gram,
    ease_weights,
    fit_als_candidate,
    fit_lightfm_candidates,
    fit_popularity_candidate,
    fit_rp3beta_candidate,
    fit_spark_als_candidate,
    lightfm_checkpoints,
    with_item_item,
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


# Parameters that change how fitted item-item weights are scored, not the weights.
SCORING_PARAMS = ("history_half_life_days", "popularity_blend")
# Parameters of a blend with RP3beta.
BLEND_PARAMS = ("rp3beta_alpha", "rp3beta_beta", "rp3beta_weight")


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


Step = Callable[[float], float | None]


def _climb(
    run: _Run,
    model: str,
    steps: dict[str, tuple[Step, Step]],
    try_params: Callable[[dict[str, float]], bool],
    *,
    base: Callable[[], Trial | None] | None = None,
) -> None:
    """Search past the grid while the evidence says so: from the best point, try each parameter one step
    up and one step down (``steps``: name -> (up, down), None when there is no step), keep going from
    the new best, at most ``grid_extensions`` rounds, and stop when a round finds nothing better.

    The hidden MovieLens-1M and Last.fm sets' validation picked the largest EASE lambda of the grid and
    their test sets wanted a stronger one still; tuned iALS wants 128-256 factors with strong
    regularisation where the grid stopped at 64: a grid tuned on small data caps a bigger one. Inside
    a grid the steps land on points already measured and cost nothing. ``try_params`` fits and scores
    one point (False if the budget refused it); ``base`` picks the point to climb from (default: the
    model's best).
    """
    pick = base or (lambda: run.best(model))
    for _ in range(run.ctx.config.grid_extensions):
        best = pick()
        if best is None:
            return
        start = best.candidate
        for name, (up, down) in steps.items():
            if name not in start.params:
                continue
            for step in (up, down):
                value = step(start.params[name])
                if value is None:
                    continue
                params = {**start.params, name: value}
                if Candidate(model, params).label in run.artifacts:
                    continue
                logger.info("selection: %s: trying %s=%g next to the best %s", model, name, value, start.label)
                try_params(params)
        after = pick()
        if after is None or after.candidate == start:
            return


def _times(factor: float, *, low: float = 0.0, high: float = math.inf) -> Step:
    return lambda v: v * factor if low <= v * factor <= high and v > 0 else None


def _plus(delta: float, *, low: float, high: float) -> Step:
    return lambda v: round(v + delta, 6) if low <= round(v + delta, 6) <= high else None


def _rescore(run: _Run, model: str) -> None:
    """Scoring settings of the best item-item point: history half-life, then popularity blend.

    They reuse the weights: no refit, one scoring pass each. Fading by age needs timestamps: without
    them every half-life scores as "off", so none is tried. A half-life at the grid's edge is extended.
    """
    config = run.ctx.config
    half_lives = config.history_half_lives_days if has_timestamps(run.ctx.arrays) else ()

    base = run.best(model)
    if base is None:
        return
    weights = base.candidate

    def rescored(params: dict[str, float]) -> bool:
        candidate = Candidate(model, params)
        if candidate.label in run.artifacts:
            return True
        cost = run.budget.rescoring(model, run.refits[weights.label])
        if not run.affords(candidate, cost):
            return False
        run.score(candidate, with_scoring(run.artifacts[weights.label], candidate), 0.0, cost.refit_s)
        return True

    def same_weights() -> Trial | None:
        """The best point with these weights (scoring settings only differ)."""
        grid_params = {n: v for n, v in weights.params.items() if n not in SCORING_PARAMS}
        return max(
            (t for t in run.trials if t.metrics is not None and t.candidate.model == model
             and {n: v for n, v in t.candidate.params.items() if n not in SCORING_PARAMS} == grid_params),
            key=lambda t: t.metrics.ndcg if t.metrics else -1.0, default=None,
        )  # fmt: skip

    for name, grid in (("history_half_life_days", half_lives), ("popularity_blend", config.popularity_blends)):
        best = same_weights()
        assert best is not None
        for value in grid:
            if value == 0 and name not in best.candidate.params:
                continue
            rescored({**best.candidate.params, name: value})
        if name == "history_half_life_days" and half_lives:
            _climb(run, model, {name: (_times(2, high=3650), _times(0.5, low=1))}, rescored, base=same_weights)


def _select_rp3beta(run: _Run) -> None:
    """RP3beta's grid (alpha x beta), beta extended past its edges, then its scoring settings."""
    config = run.ctx.config

    def fitted(params: dict[str, float]) -> bool:
        candidate = Candidate("rp3beta", params)
        cost = run.budget.rp3beta()
        if not run.affords(candidate, cost):
            return False
        artifact, seconds = _timed(partial(fit_rp3beta_candidate, run.ctx, candidate))
        run.budget.learn_fit("rp3beta", seconds, run.budget.rp3beta_fit())
        run.score(candidate, artifact, seconds, cost.refit_s)
        return True

    for alpha, beta in itertools.product(config.rp3beta_alphas, config.rp3beta_betas):
        fitted({"rp3beta_alpha": alpha, "rp3beta_beta": beta})
    steps = {"rp3beta_beta": (_plus(0.15, low=0, high=1), _plus(-0.15, low=0, high=1)),
             "rp3beta_alpha": (_plus(0.25, low=0.25, high=1.5), _plus(-0.25, low=0.25, high=1.5))}  # fmt: skip
    _climb(run, "rp3beta", steps, fitted)
    _rescore(run, "rp3beta")


def _ease_head(run: _Run, why: str) -> int | None:
    """How many of the most interacted items a partial EASE can take (None: not worth it), logged."""
    config = run.ctx.config
    first = Candidate("ease", {"lambda_scale": config.ease_lambda_scales[0]})
    head = min(config.ease_max_items, run.budget.ease_head_items())
    if run.best("rp3beta") is None or head < config.ease_min_head_items:
        run.skip(first, why)
        return None
    run.skip(first, f"{why}; EASE over the {head} most interacted items instead, RP3beta for the tail")
    return head


# A whole EASE may take at most this share of the time left: beyond, its one lambda would leave nothing for
# a second lambda, the blend or the other candidates (Last.fm's 11.4k items: one fit took 35 s of the 60).
EASE_SHARE = 0.5


def _select_ease(run: _Run) -> None:
    """EASE's lambda grid (extended past its edges), its blend with RP3beta, then its scoring settings.

    A catalog too big for a whole EASE within the budget (or above ``ease_max_items``) gets EASE over the
    most interacted items it can afford, blended with RP3beta, which scores every item.
    """
    config = run.ctx.config
    budget = run.budget
    n_warm = max(budget.sizes.warm_items, budget.sizes.warm_items_all)
    head: int | None = None
    if n_warm > config.ease_max_items:
        head = _ease_head(run, f"catalog of {n_warm} items exceeds ease_max_items={config.ease_max_items}")
        if head is None:
            return
    elif not budget.fits_share(budget.ease(), EASE_SHARE):
        cost = budget.ease()
        why = (f"one EASE fit ~{cost.validation_s:.1f}s + refit ~{cost.refit_s:.1f}s would take over half the time "
               f"left of training_budget_s={budget.total_s:g}")  # fmt: skip
        head = _ease_head(run, why)
        if head is None:
            return
    tail = _rp3beta_weights(run)
    extra: dict[str, float] = {}
    if head is not None:
        assert tail is not None
        extra = {"ease_items": float(head), **tail[0], "rp3beta_weight": 1.0}
    # In a list so the n^2 Gram matrix is freed once the lambdas are done (the closure would keep it).
    grams = [ease_gram(run.ctx, head_items=head)]
    raw: dict[str, Any] = {}

    def fitted(scale: float, *, first: bool = False) -> bool:
        candidate = Candidate("ease", {**extra, "lambda_scale": scale})
        cost = budget.ease() if head is None else budget.ease_head(head)
        if not first and not run.affords(candidate, cost):
            return False
        started = time.perf_counter()
        weights, lam = ease_weights(run.ctx, candidate.params, grams[0])
        budget.learn_fit("ease", time.perf_counter() - started, ease_fit_seconds(head or budget.sizes.warm_items))
        raw[candidate.label] = (weights, lam)
        if head is not None and tail is not None:
            weights = blended(weights, tail[1], candidate.params["rp3beta_weight"])
        artifact = assemble_item_item(run.ctx, candidate, weights, fit_seconds=0.0, lam=lam)
        run.score(candidate, artifact, time.perf_counter() - started, cost.refit_s)
        return True

    for n, scale in enumerate(config.ease_lambda_scales):
        fitted(scale, first=n == 0 and head is None)
    _climb(run, "ease", {"lambda_scale": (_times(2), _times(0.5, low=0.05))}, lambda p: fitted(p["lambda_scale"]))
    grams.clear()
    best = run.best("ease")
    if best is not None and tail is not None:
        _blend_with_rp3beta(run, best.candidate, raw[best.candidate.label], tail)
    _rescore(run, "ease")


def _rp3beta_weights(run: _Run) -> tuple[dict[str, float], Any] | None:
    """The best RP3beta's grid settings and weights (fitted on the older part), None if it did not run."""
    best = run.best("rp3beta")
    if best is None:
        return None
    artifact = run.artifacts[best.candidate.label]
    assert artifact.neighbours is not None
    params = {n: best.candidate.params[n] for n in ("rp3beta_alpha", "rp3beta_beta")}
    return params, artifact.neighbours.to_csr(artifact.n_items)


def _blend_with_rp3beta(run: _Run, ease_best: Candidate, ease_fit: tuple[Any, float],
                        tail: tuple[dict[str, float], Any]) -> None:  # fmt: skip
    """EASE + w * RP3beta as one neighbour matrix, w from ``item_item_blends`` (extended past its edges)."""
    weights, lam = ease_fit
    base = run.artifacts[ease_best.label]

    def fitted(params: dict[str, float]) -> bool:
        candidate = Candidate("ease", {**params, **tail[0]})
        if candidate.label in run.artifacts:
            return True
        cost = run.budget.blend(run.refits[ease_best.label])
        if not run.affords(candidate, cost):
            return False
        started = time.perf_counter()
        mixed = blended(weights, tail[1], w)
        neighbours = ItemNeighbours(mixed.indptr.astype(np.int64), mixed.indices.astype(np.int32),
                                    mixed.data.astype(np.float32))  # fmt: skip
        metadata = {**base.metadata, "neighbours": int(mixed.nnz), "ease": {"lambda": round(lam, 4)}}
        artifact = with_scoring(replace(base, neighbours=neighbours, metadata=metadata), candidate)
        run.score(candidate, artifact, time.perf_counter() - started, cost.refit_s)
        return True

    for w in run.ctx.config.item_item_blends:
        fitted({**ease_best.params, "rp3beta_weight": w})
    _climb(run, "ease", {"rp3beta_weight": (_times(2, high=64), _times(0.5, low=1 / 64))}, fitted)


def _select_als(run: _Run, model: str = "als") -> None:
    """The ALS grid (factors x regularisations x alphas), fitted by implicit or, as ``spark_als``, on Spark.

    Spark's MLlib has its own regularisation grid (engine/spark.py says why), costs and fit. Factors and
    regularisation are extended past their edges: tuned iALS wants 128-256 factors and strong
    regularisation on bigger data (Rendle et al. 2022).
    """
    config = run.ctx.config
    on_spark = model == "spark_als"
    regularizations = config.spark_als_regularizations if on_spark else config.als_regularizations
    fit_fn = fit_spark_als_candidate if on_spark else fit_als_candidate

    def fitted(params: dict[str, float]) -> bool:
        candidate = Candidate(model, params)
        if candidate.label in run.artifacts:
            return True
        factors = int(params["factors"])
        budget, iterations = run.budget, config.als_iterations
        cost = budget.spark_als(factors, iterations) if on_spark else budget.als(factors, iterations)
        if not run.affords(candidate, cost):
            return False
        artifact, seconds = _timed(partial(fit_fn, run.ctx, candidate))
        estimate = budget.spark_als_fit(factors, iterations) if on_spark else budget.als_fit(factors, iterations)
        budget.learn_fit(model, seconds, estimate)
        run.score(candidate, artifact, seconds, cost.refit_s)
        return True

    for factors, regularization, alpha in itertools.product(config.als_factors, regularizations, config.als_alphas):
        fitted({"factors": float(factors), "regularization": regularization, "alpha": alpha})
    steps = {"factors": (_times(2, high=512), _times(0.5, low=8)), "regularization": (_times(3), _times(1 / 3)),
             "alpha": (_times(2, high=100), _times(0.5, low=0.25))}  # fmt: skip
    if on_spark:
        _climb(run, model, steps, fitted)
        return
    # The blend costs one scoring pass per weight: tried before the climb (whose fits may use up the
    # budget) and again from wherever the climb ends.
    _blend_factors_with_rp3beta(run, model)
    _climb(run, model, steps, fitted, base=lambda: _best_unblended(run, model))
    _blend_factors_with_rp3beta(run, model)


def _best_unblended(run: _Run, model: str) -> Trial | None:
    trials = [t for t in run.trials if t.metrics is not None and t.candidate.model == model
              and "rp3beta_weight" not in t.candidate.params]  # fmt: skip
    return max(trials, key=lambda t: t.metrics.ndcg if t.metrics else -1.0, default=None)


def _blend_factors_with_rp3beta(run: _Run, model: str) -> None:
    """The best ALS blended with the best RP3beta: z(ALS) + w * z(RP3beta) per user, w on validation.

    Neither refits: the ALS factors and the RP3beta weights of the older part are scored together; the
    refit fits both on all data. Two different kinds of model err differently, so their blend is the
    usual step past the best single one (Last.fm dev: ALS 0.2178, RP3beta tuned on test 0.2052).
    """
    best = _best_unblended(run, model)
    tail = _rp3beta_weights(run)
    if best is None or tail is None:
        return
    base = run.artifacts[best.candidate.label]
    weights = tail[1]

    def fitted(params: dict[str, float]) -> bool:
        candidate = Candidate(model, {**params, **tail[0]})
        if candidate.label in run.artifacts:
            return True
        cost = run.budget.rescoring(model, run.refits[best.candidate.label] + run.budget.rp3beta_fit_corrected())
        if not run.affords(candidate, cost):
            return False
        started = time.perf_counter()
        artifact = with_scoring(with_item_item(base, weights), candidate)
        run.score(candidate, artifact, time.perf_counter() - started, cost.refit_s)
        return True

    for w in run.ctx.config.item_item_blends:
        fitted({**best.candidate.params, "rp3beta_weight": w})

    def best_blend() -> Trial | None:
        blends = [t for t in run.trials if t.metrics is not None and t.candidate.model == model
                  and t.candidate.params.get("factors") == best.candidate.params["factors"]
                  and {n: v for n, v in t.candidate.params.items() if n not in BLEND_PARAMS}
                  == {n: v for n, v in best.candidate.params.items() if n not in BLEND_PARAMS}]  # fmt: skip
        return max(blends, key=lambda t: t.metrics.ndcg if t.metrics else -1.0, default=None)

    _climb(run, model, {"rp3beta_weight": (_times(2, high=64), _times(0.5, low=1 / 64))}, fitted, base=best_blend)


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
    "ease": _select_ease, "rp3beta": _select_rp3beta, "als": _select_als, "lightfm": _select_lightfm,
    "spark_als": partial(_select_als, model="spark_als"),
}  # fmt: skip


def default_candidate(model: str, config: EngineConfig) -> Candidate:
    """A model's first grid point: what is served when there is no evidence to choose by."""
    if model == "ease":
        return Candidate("ease", {"lambda_scale": config.ease_lambda_scales[0]})
    if model == "rp3beta":
        params = {"rp3beta_alpha": config.rp3beta_alphas[0], "rp3beta_beta": config.rp3beta_betas[0]}
        return Candidate("rp3beta", params)
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
