"""The training budget covers validation fits and the winner's refit; what does not fit is skipped, with the reason."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from recommendations.domain import InteractionKind
from recommendations.engine import budget as budget_module
from recommendations.engine import selection as selection_module
from recommendations.engine.budget import Budget, Cost, Sizes
from recommendations.engine.config import EngineConfig
from recommendations.engine.errors import InvalidData
from recommendations.engine.selection import select_model
from recommendations.engine.train import train_model

from .conftest import events, timed_clusters
from .test_selection import config

SIZES = Sizes(events=900, events_all=1000, positives=800, warm_items=100, warm_items_all=110, items=120)


def a_budget(total_s: float) -> Budget:
    return Budget(total_s, SIZES)


def test_a_cost_fits_only_with_its_refit_counted() -> None:
    budget = a_budget(10.0)
    assert budget.fits(Cost(validation_s=4.0, refit_s=5.0))
    assert not budget.fits(Cost(validation_s=4.0, refit_s=7.0))  # the validation fit alone would fit


def test_the_refit_of_the_best_so_far_stays_reserved() -> None:
    budget = a_budget(10.0)
    budget.reserve(8.0)
    # A cheap candidate with a cheap refit still has to leave room for the best one's refit.
    assert not budget.fits(Cost(validation_s=3.0, refit_s=1.0))
    assert budget.fits(Cost(validation_s=1.5, refit_s=1.0))
    assert "refit ~8.0s" in budget.shortfall(Cost(validation_s=3.0, refit_s=1.0))


def test_a_measured_fit_corrects_the_estimates_of_its_model_and_of_models_not_yet_fitted() -> None:
    budget = a_budget(100.0)
    assert budget.corrected("als", 2.0) == 2.0
    budget.learn_fit("ease", measured_s=0.01, estimated_s=2.0)  # too small a fit to learn from
    assert budget.corrected("ease", 2.0) == 2.0
    budget.learn_fit("als", measured_s=6.0, estimated_s=2.0)
    assert budget.corrected("als", 2.0) == pytest.approx(6.0)
    assert budget.corrected("lightfm", 1.0) == pytest.approx(3.0)  # the machine is slow for everyone
    budget.learn_fit("lightfm", measured_s=1.0, estimated_s=1.0)
    assert budget.corrected("lightfm", 1.0) == pytest.approx(1.0)
    assert budget.corrected("ease", 1.0) == pytest.approx(2.0)  # the mean of what is known


def test_refits_scale_with_the_data_they_see() -> None:
    budget = a_budget(100.0)
    assert budget.als(factors=10, iterations=10).refit_s == pytest.approx(budget.als_fit(10, 10) * 1000 / 900)
    assert budget.ease().refit_s == pytest.approx(budget_module.ease_fit_seconds(110))


def test_ease_is_skipped_when_its_refit_would_not_fit_though_its_validation_fit_would(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # EASE of timed_clusters' 24 items estimated at ~3 s a fit: validation and refit need ~6 s of 5.
    # The clock stands still (the standard library's, outside the project): what is decided depends on the
    # estimates alone, not on how loaded the machine is (under a benchmark's load the real fits took seconds).
    frozen = SimpleNamespace(perf_counter=lambda: 0.0)
    monkeypatch.setattr(budget_module, "time", frozen)
    monkeypatch.setattr(selection_module, "time", frozen)
    monkeypatch.setattr(budget_module, "EASE_SECONDS_PER_ITEM_CUBED", 3.0 / 24**3)
    monkeypatch.setattr(budget_module, "EASE_SECONDS_PER_ITEM_SQUARED", 0.0)
    with caplog.at_level(logging.INFO, logger="recommendations.engine.selection"):
        selection = select_model(timed_clusters(), [], config(candidates=["ease"], training_budget_s=5.0))
    (trial,) = [t for t in selection.trials if t.candidate.model == "ease"]
    assert trial.metrics is None
    assert "refit ~3.0s" in (trial.skipped or "")
    assert "training_budget_s=5" in caplog.text
    assert selection.winner.model == "popularity"
    # With room for both within half the budget (a whole EASE may take no more), the same EASE runs (and wins).
    roomy = select_model(timed_clusters(), [], config(candidates=["ease"], training_budget_s=14.0))
    assert roomy.winner.model == "ease"


def test_lightfm_stops_at_the_checkpoint_after_which_its_refit_would_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = timed_clusters()
    positives = 240 * 8 * 0.9  # about the older part's positive pairs
    # 0.5 s an epoch: 3 epochs (+ a 3-epoch refit) fit in 4 s, 6 epochs (+ a 6-epoch refit) do not.
    monkeypatch.setattr(budget_module, "LIGHTFM_SECONDS_PER_POSITIVE_EPOCH", 0.5 / positives)
    selection = select_model(arrays, [], config(candidates=["lightfm"], training_budget_s=4.0))
    trials = {t.candidate.label: t for t in selection.trials if t.candidate.model == "lightfm"}
    assert trials["lightfm(epochs=3)"].metrics is not None
    assert trials["lightfm(epochs=6)"].metrics is None
    assert "exceed" in (trials["lightfm(epochs=6)"].skipped or "")


def test_the_training_records_its_refit_and_total_against_the_budget() -> None:
    artifact = train_model(timed_clusters(), [], config(candidates=["ease"]))
    budget = artifact.metadata["selection"]["budget"]
    assert budget["training_budget_s"] == EngineConfig().training_budget_s
    assert 0 < budget["refit_s"] < budget["total_s"]
    assert budget["total_s"] == pytest.approx(artifact.metadata["selection"]["seconds"] + budget["refit_s"], abs=2e-3)
    assert budget["reserved_refit_s"] > 0  # EASE won: its refit was held in reserve


def test_a_training_over_its_budget_says_so(caplog: pytest.LogCaptureFixture) -> None:
    # A pinned model is refitted even when nothing of its grid fits the budget.
    pinned = config(pinned_models={"*": "ease"}, training_budget_s=0.0)
    with caplog.at_level(logging.WARNING):
        artifact = train_model(timed_clusters(), [], pinned)
    assert artifact.metadata["model"] == "ease"
    assert "pinned ease has no measured grid point" in caplog.text
    assert "over training_budget_s=0" in caplog.text


def test_a_pinned_ease_on_a_catalog_over_its_limit_fails_instead_of_allocating() -> None:
    with pytest.raises(InvalidData, match="exceeds ease_max_items=10"):
        train_model(timed_clusters(), [], config(pinned_models={"*": "ease"}, ease_max_items=10))


def test_at_most_max_validation_users_are_scored() -> None:
    selection = select_model(timed_clusters(), [], config(max_validation_users=50, candidates=[]))
    assert selection.validation_users == 50
    assert select_model(timed_clusters(), [], config(candidates=[])).validation_users > 50


def test_without_timestamps_one_popularity_window_is_scored() -> None:
    rows = [(u, f"i{(u + n) % 15}", InteractionKind.LIKED, None, 0) for u in range(60) for n in range(8)]
    selection = select_model(events(rows), [], config(candidates=[]))
    windows = [t.candidate.params["window_days"] for t in selection.trials]
    assert windows == [365.0]
    assert selection.popularity_window_days == 365.0
    timed = select_model(timed_clusters(), [], config(candidates=[]))
    assert [t.candidate.params["window_days"] for t in timed.trials] == [365.0, 30.0, 90.0, 36500.0]
