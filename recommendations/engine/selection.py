"""Model selection on evidence: fit every candidate on the older part of the data, keep the best.

At every training run, per content type:

1. Split: where the data has timestamps, one global time cut (the newest ``validation_time_fraction``
   of events is the validation set, as a model trained tonight is judged on tomorrow's events); where
   it has none, a random ``validation_random_fraction`` of each user's events.
2. Popularity first, with each window of ``popularity_windows_days``: the best window is what cold
   users get, and the baseline every candidate must beat.
3. Each candidate's grid (EASE lambda, then its history half-life and popularity blend; ALS factors x
   regularisation x alpha; LightFM epochs), within ``selection_budget_s``: a fit whose estimated cost
   no longer fits the budget is skipped with the reason recorded. EASE is skipped (with its reason)
   for catalogs above ``ease_max_items``, before any memory is allocated.
4. Full-ranking ndcg@k of each on the validation users (their training items excluded), through the
   serving code (``Recommender.recommend_batch``), so what is measured is what would be served.
5. The winner is the best ndcg@k (popularity included); ``train_model`` refits it on all data.

A pinned model (``pinned_models``) restricts step 3 to that model and makes it the winner even when
popularity scores better; its grid is still searched.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from ..domain import CatalogItem, InteractionArrays, InteractionKind
from . import ease
from .artifact import ModelArtifact
from .candidates import (
    Candidate,
    Context,
    ease_gram,
    fit_als_candidate,
    fit_ease_candidate,
    fit_lightfm_candidates,
    fit_popularity_candidate,
    lightfm_checkpoints,
    with_scoring,
)
from .config import EngineConfig
from .errors import EngineError, InvalidData
from .evaluation import RankingMetrics, holdout_auc, measure, relevant_matrix
from .matrix import build_interaction_matrix, event_weights, rating_scale
from .serving import Recommender
from .splits import global_time_split, random_split, take, time_split

logger = logging.getLogger(__name__)

# First-fit cost estimates, before a model of the family has been timed in this run (2 vCPUs, here):
# LightFM WARP 64 components took 22.8 s for 10 epochs over 2.05M positives; implicit ALS 64 factors,
# 15 iterations 9.4 s over the same (shared/notes/lightfm.md). Each fit that runs replaces the estimate.
LIGHTFM_SECONDS_PER_POSITIVE_EPOCH = 1.1e-6
ALS_SECONDS_PER_POSITIVE_ITERATION_FACTOR = 4.8e-9


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
    if len(arrays) and int(arrays.timestamps.min()) == int(arrays.timestamps.max()):
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


class _Run:
    """The state of one selection: the clock, the validation users, the trials so far."""

    def __init__(self, ctx: Context, test: InteractionArrays, k: int, budget_s: float) -> None:
        self.ctx = ctx
        self.k = k
        self.budget_s = budget_s
        self.started = time.perf_counter()
        self.trials: list[Trial] = []
        self.artifacts: dict[str, ModelArtifact] = {}  # by candidate label
        self.test = test
        self.user_ids = np.empty(0, dtype=np.int64)
        self.relevant: Any = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def affordable(self, estimate_s: float) -> bool:
        return self.elapsed() + estimate_s <= self.budget_s

    def skip(self, candidate: Candidate, reason: str) -> None:
        logger.info("selection: %s skipped: %s", candidate.label, reason)
        self.trials.append(Trial(candidate, None, 0.0, reason))

    def score(self, candidate: Candidate, artifact: ModelArtifact, seconds: float) -> RankingMetrics:
        if self.relevant is None:
            self.user_ids, self.relevant = relevant_matrix(self.test, Recommender(artifact), None)
            if self.user_ids.shape[0] == 0:
                raise InvalidData("no validation user is in the older part with a relevant item")
        started = time.perf_counter()
        metrics = measure(Recommender(artifact), self.user_ids, self.relevant, self.k)
        trial = Trial(candidate, metrics, seconds + time.perf_counter() - started)
        self.trials.append(trial)
        self.artifacts[candidate.label] = artifact
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


def _select_popularity(run: _Run) -> float:
    for window in run.ctx.config.popularity_windows_days:
        candidate = Candidate("popularity", {"window_days": window})
        artifact, seconds = _timed(partial(fit_popularity_candidate, run.ctx, candidate))
        run.score(candidate, artifact, seconds)
    best = run.best("popularity")
    assert best is not None
    return best.candidate.params["window_days"]


def _select_ease(run: _Run) -> None:
    config = run.ctx.config
    positives = run.ctx.matrix.seen.data > 0
    n_warm = int(np.unique(run.ctx.matrix.seen.indices[positives]).shape[0])
    first = Candidate("ease", {"lambda_scale": config.ease_lambda_scales[0]})
    if n_warm > config.ease_max_items:
        run.skip(first, f"catalog of {n_warm} items exceeds ease_max_items={config.ease_max_items}")
        return
    if not run.affordable(ease.estimated_seconds(n_warm)):
        run.skip(first, f"an inverse of {n_warm} items (~{ease.estimated_seconds(n_warm):.0f}s) exceeds the budget")
        return
    gram = ease_gram(run.ctx)
    for scale in config.ease_lambda_scales:
        candidate = Candidate("ease", {"lambda_scale": scale})
        estimate = ease.estimated_seconds(n_warm)
        if not run.affordable(estimate):
            run.skip(candidate, f"~{estimate:.0f}s left no room in the budget")
            continue
        artifact, seconds = _timed(partial(fit_ease_candidate, run.ctx, candidate, gram))
        run.score(candidate, artifact, seconds)
    best = run.best("ease")
    if best is None:
        return
    base = run.artifacts[best.candidate.label]
    # Scoring settings reuse the weights: no refit, one scoring pass each.
    for name, grid in (("history_half_life_days", config.history_half_lives_days),
                       ("popularity_blend", config.popularity_blends)):  # fmt: skip
        for value in grid:
            candidate = Candidate("ease", {**best.candidate.params, name: value})
            if candidate.label in run.artifacts or (value == 0 and name not in best.candidate.params):
                continue
            run.score(candidate, with_scoring(base, candidate), 0.0)
        best = run.best("ease")
        assert best is not None


def _select_als(run: _Run) -> None:
    config = run.ctx.config
    positives = int((run.ctx.matrix.seen.data > 0).sum())
    per_factor: float | None = None
    for factors, regularization, alpha in itertools.product(
        config.als_factors, config.als_regularizations, config.als_alphas
    ):
        candidate = Candidate("als", {"factors": float(factors), "regularization": regularization, "alpha": alpha})
        rate = per_factor or ALS_SECONDS_PER_POSITIVE_ITERATION_FACTOR * positives * config.als_iterations
        if not run.affordable(rate * factors):
            run.skip(candidate, f"~{rate * factors:.0f}s left no room in the budget")
            continue
        artifact, seconds = _timed(partial(fit_als_candidate, run.ctx, candidate))
        per_factor = seconds / factors
        run.score(candidate, artifact, seconds)


def _select_lightfm(run: _Run) -> None:
    config = run.ctx.config
    checkpoints = lightfm_checkpoints(config)
    positives = int((run.ctx.matrix.seen.data > 0).sum())
    estimate = LIGHTFM_SECONDS_PER_POSITIVE_EPOCH * positives * checkpoints[-1]
    if not run.affordable(estimate):
        run.skip(Candidate("lightfm", {"epochs": float(checkpoints[-1])}), f"~{estimate:.0f}s exceeds the budget")
        return
    started = time.perf_counter()
    for candidate, artifact in fit_lightfm_candidates(run.ctx, checkpoints=checkpoints):
        run.score(candidate, artifact, time.perf_counter() - started)
        started = time.perf_counter()


SELECTORS: dict[str, Callable[[_Run], None]] = {"ease": _select_ease, "als": _select_als, "lightfm": _select_lightfm}


def default_candidate(model: str, config: EngineConfig) -> Candidate:
    """A model's first grid point: what is served when there is no evidence to choose by."""
    if model == "ease":
        return Candidate("ease", {"lambda_scale": config.ease_lambda_scales[0]})
    if model == "als":
        params = {"factors": float(config.als_factors[0]), "regularization": config.als_regularizations[0]}
        return Candidate("als", {**params, "alpha": config.als_alphas[0]})
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
) -> Selection:
    """Choose the model (and its settings) to serve for these interactions; see the module docstring."""
    started = time.perf_counter()
    pinned = config.pinned_model(content_type)
    models = [pinned] if pinned is not None else [m for m in config.candidates if m != "popularity"]
    split, train, test = validation_split(arrays, config, min_rating=min_rating)
    try:
        matrix = build_interaction_matrix(train, config, extra_item_ids=catalog_extras(catalog, config),
                                          scale=rating_scale(arrays))  # fmt: skip
        ctx = Context(matrix=matrix, arrays=train, catalog=catalog, config=config)
        run = _Run(ctx, _relevant_part(test, config, matrix.rating_scale, min_rating), k, config.selection_budget_s)
        window = _select_popularity(run)
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
    best = run.best(pinned) if pinned is not None else run.best()
    popularity = run.best("popularity")
    assert popularity is not None
    if best is None:
        assert pinned is not None
        winner, reason = default_candidate(pinned, config), "pinned; no grid point could be measured"
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
