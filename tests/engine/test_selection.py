"""Model selection on tiny hand-made data: evidence decides, a pin is respected, limits skip with a reason."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recommendations.domain import InteractionKind
from recommendations.engine import ease as ease_module
from recommendations.engine.config import EngineConfig
from recommendations.engine.selection import select_model, validation_split
from recommendations.engine.serving import Recommender
from recommendations.engine.train import train_model

from .conftest import events, timed_clusters

# Small grids so each selection takes well under a second.
SMALL = {
    "no_components": 4, "epochs": 6, "num_threads": 1, "min_validation_users": 20,
    "ease_lambda_scales": [5.0], "history_half_lives_days": [0.0], "popularity_blends": [0.0],
    "als_factors": [4], "als_regularizations": [1.0],
}  # fmt: skip


def config(**overrides: object) -> EngineConfig:
    return EngineConfig.from_overrides({**SMALL, **overrides})


def test_data_with_timestamps_is_validated_on_one_global_time_cut() -> None:
    arrays = timed_clusters()
    split, train, test = validation_split(arrays, config())
    assert split == "time"
    assert train.timestamps.max() <= test.timestamps.min()
    assert len(test) == round(0.1 * len(arrays))


def test_data_without_timestamps_is_validated_on_a_random_part_of_each_user() -> None:
    rows = [(u, f"i{n}", InteractionKind.LIKED, None, 0) for u in range(5) for n in range(11)]
    split, train, test = validation_split(events(rows), config())
    assert split == "random"
    assert len(test) == 5 * 2  # a fifth of each user's 11 events, rounded down
    assert len(train) == 5 * 9


def test_selection_picks_the_clearly_better_model_and_records_every_candidate() -> None:
    # ALS with one factor and a huge regularisation cannot separate the clusters; EASE can.
    crippled = config(candidates=["als", "ease"], als_factors=[1], als_regularizations=[1e6])
    selection = select_model(timed_clusters(), [], crippled)
    assert selection.winner.model == "ease"
    assert selection.split == "time"
    ndcg = {t.candidate.model: t.metrics.ndcg for t in selection.trials if t.metrics is not None}
    assert ndcg["ease"] > ndcg["als"]
    assert ndcg["ease"] > ndcg["popularity"]
    summary = selection.summary()
    assert summary["winner"] == "ease"
    assert {t["model"] for t in summary["trials"]} == {"popularity", "als", "ease"}
    assert all("ndcg@10" in t["metrics"] for t in summary["trials"])


def test_the_winner_is_refit_on_all_data_and_carries_the_selection() -> None:
    arrays = timed_clusters()
    artifact = train_model(arrays, [], config(candidates=["ease"]))
    assert artifact.kind == "item_item"
    assert artifact.n_users == np.unique(arrays.user_ids).shape[0]  # all users, not only the older part
    assert artifact.metadata["selection"]["winner"] == "ease"
    assert artifact.metadata["metrics"]["model"]["ndcg@10"] > artifact.metadata["metrics"]["popularity"]["ndcg@10"]
    in_cluster = [
        r.item_id.startswith("a" if user % 2 == 0 else "b")
        for user in range(0, 240, 7)
        for r in Recommender(artifact).recommend(user, k=3).items
    ]
    assert np.mean(in_cluster) == 1.0


def test_a_pinned_model_is_served_even_when_another_scores_better() -> None:
    pinned = config(pinned_models={"movies": "als"}, als_factors=[1], als_regularizations=[1e6])
    selection = select_model(timed_clusters(), [], pinned, content_type="movies")
    assert selection.winner.model == "als"
    assert selection.pinned == "als"
    assert {t.candidate.model for t in selection.trials} == {"popularity", "als"}  # EASE is not even tried
    # Another type is not pinned: selection decides there.
    assert select_model(timed_clusters(), [], pinned, content_type="anime").winner.model != "als"


def test_a_pin_for_every_type_applies_where_there_is_no_pin_of_its_own() -> None:
    pins = config(pinned_models={"*": "popularity", "anime": "ease"})
    assert pins.pinned_model("movies") == "popularity"
    assert pins.pinned_model("anime") == "ease"
    assert select_model(timed_clusters(), [], pins, content_type="movies").winner.model == "popularity"


def test_a_catalog_too_large_for_ease_skips_it_with_a_logged_reason(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_gram(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Gram matrix must not be built for a catalog over the limit")

    monkeypatch.setattr(ease_module, "gram", no_gram)
    with caplog.at_level(logging.INFO, logger="recommendations.engine.selection"):
        selection = select_model(timed_clusters(), [], config(candidates=["ease", "als"], ease_max_items=10))
    skipped = [t for t in selection.trials if t.candidate.model == "ease"]
    assert len(skipped) == 1
    assert skipped[0].metrics is None
    assert "exceeds ease_max_items=10" in (skipped[0].skipped or "")
    assert "exceeds ease_max_items=10" in caplog.text
    assert selection.winner.model in {"als", "popularity"}


def test_a_candidate_the_budget_cannot_afford_is_skipped_and_popularity_still_measured() -> None:
    selection = select_model(timed_clusters(), [], config(training_budget_s=0.0))
    assert selection.winner.model == "popularity"
    assert all(t.skipped for t in selection.trials if t.candidate.model != "popularity")
    assert all("budget" in (t.skipped or "") for t in selection.trials if t.candidate.model != "popularity")


def test_the_popularity_window_is_chosen_on_validation() -> None:
    # Old favourites were watched a lot two years ago (by half the users); what people watch now are
    # the new releases, so all-time counts recommend the old favourites to the other half.
    rows = []
    now = 1_800_000_000
    for user in range(200):
        for n in range(5 if user < 100 else 0):
            rows.append((user, f"old{n}", InteractionKind.WATCHED, None, now - 700 * 86_400 + user))
        for n in range(3):
            stamp = now - 20 * 86_400 + n * 5 * 86_400 + user
            rows.append((user, f"new{(user + n) % 6}", InteractionKind.WATCHED, None, stamp))
    selection = select_model(events(rows), [], config(candidates=[]))
    assert selection.popularity_window_days in (30.0, 90.0, 365.0)
    scores = {t.candidate.params["window_days"]: t.metrics.ndcg for t in selection.trials if t.metrics}
    assert scores[selection.popularity_window_days] > scores[36500.0]


def test_too_little_data_for_validation_serves_the_first_candidate_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tiny = events([(1, "a", InteractionKind.LIKED, None, 10), (2, "b", InteractionKind.LIKED, None, 20)])
    with caplog.at_level(logging.WARNING, logger="recommendations.engine.selection"):
        selection = select_model(tiny, [], config(candidates=["ease", "als"]))
    assert selection.winner.model == "ease"
    assert selection.split == "none"
    assert "no validation possible" in caplog.text


def test_history_fading_is_only_tried_on_data_with_timestamps() -> None:
    grids = {"candidates": ["ease"], "history_half_lives_days": [0.0, 30.0], "popularity_blends": [0.0, 0.3]}
    timed = select_model(timed_clusters(), [], config(**grids))
    assert any("history_half_life_days" in t.candidate.params for t in timed.trials)
    rows = [(u, f"{'ab'[u % 2]}{(u + n) % 12:02d}", InteractionKind.LIKED, None, 0)
            for u in range(120) for n in range(8)]  # fmt: skip
    untimed = select_model(events(rows), [], config(**grids))
    assert untimed.split == "random"
    assert not any("history_half_life_days" in t.candidate.params for t in untimed.trials)
    assert any("popularity_blend" in t.candidate.params for t in untimed.trials)


def test_a_grid_whose_best_point_is_at_its_edge_is_searched_past_it() -> None:
    grid = [0.1, 0.2]  # both steps (x2, /2) past them are allowed
    selection = select_model(timed_clusters(), [], config(candidates=["ease"], ease_lambda_scales=grid))
    scales = {t.candidate.params["lambda_scale"] for t in selection.trials if t.candidate.model == "ease" and t.metrics}
    assert scales - set(grid), "the edge of the grid was not followed"
    fixed = select_model(timed_clusters(), [], config(candidates=["ease"], ease_lambda_scales=grid, grid_extensions=0))
    assert {t.candidate.params["lambda_scale"] for t in fixed.trials if t.candidate.model == "ease"} == set(grid)


def test_als_climbs_from_its_best_point_one_step_each_way() -> None:
    selection = select_model(timed_clusters(), [], config(candidates=["als"], grid_extensions=1))
    points = {(t.candidate.params["factors"], t.candidate.params["regularization"], t.candidate.params["alpha"])
              for t in selection.trials if t.candidate.model == "als" and t.metrics}  # fmt: skip
    # The grid is one point (4 factors, reg 1, alpha 5): one round tries its neighbours (factors x2, not below 8;
    # regularisation x3 and /3; alpha x2 and /2).
    assert points == {(4.0, 1.0, 5.0), (8.0, 1.0, 5.0), (4.0, 3.0, 5.0), (4.0, 1 / 3, 5.0), (4.0, 1.0, 10.0),
                      (4.0, 1.0, 2.5)}  # fmt: skip


def test_a_catalog_too_big_for_a_whole_ease_gets_ease_over_its_most_interacted_items(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recommendations.engine import budget as budget_module

    # A whole EASE of timed_clusters' 24 items estimated at 20 s a fit: over half of a 30 s budget. 16 items fit.
    monkeypatch.setattr(budget_module, "EASE_SECONDS_PER_ITEM_CUBED", 20.0 / 24**3)
    monkeypatch.setattr(budget_module, "EASE_SECONDS_PER_ITEM_SQUARED", 0.0)
    tight = config(candidates=["rp3beta", "ease"], training_budget_s=30.0, ease_min_head_items=5, grid_extensions=0)
    selection = select_model(timed_clusters(), [], tight)
    ease_trials = [t for t in selection.trials if t.candidate.model == "ease"]
    whole = [t for t in ease_trials if "ease_items" not in t.candidate.params]
    assert whole[0].skipped is not None
    assert "most interacted items instead" in whole[0].skipped
    head = [t for t in ease_trials if t.metrics is not None]
    assert head, "no partial EASE was tried"
    assert all(5 <= t.candidate.params["ease_items"] < 24 for t in head)
    assert all(t.candidate.params["rp3beta_weight"] > 0 for t in head)  # RP3beta scores the tail
