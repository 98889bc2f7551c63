"""A popularity-served model keeps an item-kNN of co-occurrence: similar items, reasons and diversity mean something."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.domain import InteractionArrays, InteractionKind
from recommendations.engine.artifact import load_artifact, save_artifact
from recommendations.engine.config import EngineConfig
from recommendations.engine.neighbourhood import item_knn
from recommendations.engine.serving import REASON_BECAUSE_YOU_LIKED, REASON_POPULAR, History, Recommender
from recommendations.engine.train import train_model

from .conftest import events


def two_tastes() -> InteractionArrays:
    """40 users like 5 of the a-items, 20 users 5 of the b-items: every a-item is more popular than any b-item."""
    rng = np.random.default_rng(3)
    rows: list[tuple[int, str, InteractionKind, float | None, int]] = []
    for user in range(60):
        prefix = "a" if user < 40 else "b"
        for item in rng.choice(8, size=5, replace=False):
            rows.append((user, f"{prefix}{item}", InteractionKind.LIKED, None, 1_000_000 + user))
    return events(rows)


@pytest.fixture(scope="module")
def popularity() -> Recommender:
    config = EngineConfig.from_overrides({"pinned_models": {"*": "popularity"}})
    return Recommender(train_model(two_tastes(), [], config))


def test_similar_items_of_a_popularity_model_are_ranked_by_co_occurrence(popularity: Recommender) -> None:
    art = popularity.artifact
    assert art.metadata["model"] == "popularity"
    similar = popularity.similar_items("a0", k=20)
    # Only items that co-occur with a0 (its own taste), by the cosine of their co-occurrence, highest first.
    assert [s.item_id[0] for s in similar] == ["a"] * 7
    values = [s.similarity for s in similar]
    assert values == sorted(values, reverse=True)
    x = art.seen.to_csr(art.n_items)
    expected = item_knn(sp.csr_matrix(x), neighbours=50).toarray()
    row = int(np.flatnonzero(art.item_ids == "a0")[0])
    for s in similar:
        assert s.similarity == pytest.approx(expected[row, int(np.flatnonzero(art.item_ids == s.item_id)[0])])
        assert 0.0 < s.similarity <= 1.0


def test_diversity_changes_a_popular_list_towards_other_tastes(popularity: Recommender) -> None:
    plain = [r.item_id for r in popularity.popular(k=3)]
    diverse = [r.item_id for r in popularity.popular(k=3, diversity=0.9)]
    assert [i[0] for i in plain] == ["a", "a", "a"]
    assert any(i.startswith("b") for i in diverse)


def test_a_popular_list_says_which_liked_item_an_item_goes_with(popularity: Recommender) -> None:
    result = popularity.recommend(999, k=12, history=History.of(["b1"], [InteractionKind.LIKED]))
    assert result.source == "popularity"
    reasons = {r.item_id: (r.reason, r.because_item_id) for r in result.items}
    b_items = [i for i in reasons if i.startswith("b")]
    assert b_items
    assert all(reasons[i] == (REASON_BECAUSE_YOU_LIKED, "b1") for i in b_items)
    assert all(reasons[i] == (REASON_POPULAR, None) for i in reasons if i.startswith("a"))


def test_the_neighbourhood_survives_a_save_and_load(popularity: Recommender, tmp_path: Path) -> None:
    loaded = Recommender(load_artifact(save_artifact(popularity.artifact, tmp_path, "movies")))
    assert loaded.similar_items("b2", k=5) == popularity.similar_items("b2", k=5)
