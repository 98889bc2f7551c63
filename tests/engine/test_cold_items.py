"""A new catalog item with genres but no interactions can be recommended (genre cold start)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from recommendations.domain import CatalogItem
from recommendations.engine import EngineConfig, Recommender, train_model
from tests.engine.conftest import clustered_interactions

# LightFM pinned: selection would serve EASE here, whose cold items have tests of their own below.
CONFIG = EngineConfig.from_overrides({"no_components": 8, "epochs": 30, "num_threads": 1,
                                      "pinned_models": {"*": "lightfm"}})  # fmt: skip


def catalog() -> list[CatalogItem]:
    items = [CatalogItem(f"a{n:02d}", f"A {n}", ("Anime-ish",)) for n in range(10)]
    items += [CatalogItem(f"b{n:02d}", f"B {n}", ("Bleak",)) for n in range(10)]
    # New items nobody has interacted with yet: one of each genre, one without genres.
    items += [CatalogItem("new_a", "New A", ("Anime-ish",)), CatalogItem("new_b", "New B", ("Bleak",))]
    return [*items, CatalogItem("new_none", "No genres", ())]


def test_a_new_item_gets_the_centroid_of_its_genre_and_is_recommended_to_that_taste() -> None:
    artifact = train_model(clustered_interactions(), catalog(), CONFIG)
    assert artifact.item_index("new_a") is not None
    assert artifact.item_index("new_none") is None  # nothing to place it by
    recommender = Recommender(artifact)
    # User 0 likes the "a" cluster: the new "a" item must outrank the new "b" item and every b item.
    ranked = [r.item_id for r in recommender.recommend(0, k=artifact.n_items).items]
    assert ranked.index("new_a") < ranked.index("new_b")
    assert ranked.index("new_a") < min(ranked.index(f"b{n:02d}") for n in range(10))
    similar = [s.item_id for s in recommender.similar_items("new_a", k=5)]
    assert all(item.startswith("a") for item in similar)


def test_the_centroid_is_the_mean_of_the_warm_items_of_the_genre() -> None:
    artifact = train_model(clustered_interactions(), catalog(), CONFIG)
    assert artifact.kind == "factors"
    warm_a = artifact.item_indices(np.array([f"a{n:02d}" for n in range(10)], dtype=np.str_))
    expected = np.mean(np.asarray(artifact.item_factors)[warm_a], axis=0)
    np.testing.assert_allclose(artifact.item_factors[artifact.item_index("new_a")], expected, rtol=1e-5, atol=1e-6)


def test_cold_items_can_be_switched_off() -> None:
    for model in ("lightfm", "ease"):
        overrides = {"no_components": 8, "epochs": 5, "num_threads": 1, "cold_items_from_genres": False}
        config = EngineConfig.from_overrides({**overrides, "pinned_models": {"*": model}})
        artifact = train_model(clustered_interactions(), catalog(), config)
        assert artifact.item_index("new_a") is None


EASE = EngineConfig.from_overrides(
    {"pinned_models": {"*": "ease"}, "ease_lambda_scales": [5.0], "num_threads": 1, "grid_extensions": 0}
)


def test_ease_places_a_new_item_among_the_warm_items_of_its_genres() -> None:
    # At full weight, so the placement itself shows (the default halves what users get for it).
    artifact = train_model(clustered_interactions(), catalog(), dataclasses.replace(EASE, cold_item_weight=1.0))
    assert artifact.kind == "item_item"
    assert artifact.item_index("new_a") is not None
    assert artifact.item_index("new_none") is None  # no genre, no peers to place it by
    recommender = Recommender(artifact)
    ranked = [r.item_id for r in recommender.recommend(0, k=artifact.n_items).items]  # user 0 likes "a" items
    assert ranked.index("new_a") < ranked.index("new_b")
    assert ranked.index("new_a") < min(ranked.index(f"b{n:02d}") for n in range(10))
    similar = [s.item_id for s in recommender.similar_items("new_a", k=5)]
    assert similar
    assert all(item.startswith("a") for item in similar)


def test_an_ease_cold_item_gets_the_mean_column_of_its_genre_peers() -> None:
    artifact = train_model(clustered_interactions(), catalog(), EASE)
    weights = Recommender(artifact)._neighbour_matrix.toarray()
    peers = artifact.item_indices(np.array([f"a{n:02d}" for n in range(10)], dtype=np.str_))
    new_a = artifact.item_index("new_a")
    warm = artifact.item_indices(np.array([f"{c}{n:02d}" for c in "ab" for n in range(10)], dtype=np.str_))
    # What liking each warm item adds to the new item: the mean of what it adds to the ten "a" items,
    # times cold_item_weight.
    expected = weights[np.ix_(warm, peers)].mean(axis=1) * EASE.cold_item_weight
    np.testing.assert_allclose(weights[warm, new_a], expected, rtol=1e-5, atol=1e-6)
    assert expected[:10].min() > 0  # "a" lovers get something from it, so the test says something


def test_the_cold_item_weight_scales_what_users_get_for_a_cold_item_not_its_similar_items() -> None:
    def weights_with(weight: float) -> tuple[Any, Any]:
        config = dataclasses.replace(EASE, cold_item_weight=weight)
        artifact = train_model(clustered_interactions(), catalog(), config)
        matrix = Recommender(artifact)._neighbour_matrix.toarray()
        new_a = artifact.item_index("new_a")
        return matrix[:, new_a], matrix[new_a, :]

    full_column, full_row = weights_with(1.0)
    half_column, half_row = weights_with(0.5)
    assert np.abs(full_column).sum() > 0
    np.testing.assert_allclose(half_column, full_column * 0.5, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(half_row, full_row, rtol=1e-5, atol=1e-7)
