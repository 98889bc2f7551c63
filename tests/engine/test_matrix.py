from __future__ import annotations

import numpy as np
import pytest

from recommendations.domain import CatalogItem, InteractionKind
from recommendations.engine.config import EngineConfig
from recommendations.engine.errors import InvalidData
from recommendations.engine.matrix import (
    DISLIKED_WEIGHT,
    build_interaction_matrix,
    event_weights,
    item_feature_matrix,
    rating_scale,
)

from .conftest import events

K = InteractionKind


def weights_of(kinds: list[InteractionKind], values: list[float], scale: float = 5.0) -> list[float]:
    weights = event_weights(np.array(kinds, dtype=np.int8), np.array(values, dtype=np.float32), EngineConfig(), scale)
    return [float(w) for w in weights]


def test_a_like_weighs_more_than_a_watch_and_a_watch_more_than_a_watchlist_entry() -> None:
    liked, watched, watchlist = weights_of([K.LIKED, K.WATCHED, K.WATCHLIST], [np.nan] * 3)
    assert liked > watched > watchlist > 0


def test_a_top_list_rank_1_outweighs_rank_10_which_outweighs_a_like() -> None:
    first, tenth, liked = weights_of([K.TOP_LIST, K.TOP_LIST, K.LIKED], [1, 10, np.nan])
    assert first > tenth > liked


def test_ratings_are_scaled_by_the_top_of_their_scale() -> None:
    five_of_five, four_of_five = weights_of([K.RATED, K.RATED], [5, 4], scale=5.0)
    ten_of_ten, eight_of_ten = weights_of([K.RATED, K.RATED], [10, 8], scale=10.0)
    assert five_of_five == pytest.approx(ten_of_ten) == pytest.approx(EngineConfig().weight_rated)
    assert four_of_five == pytest.approx(eight_of_ten)
    assert four_of_five < five_of_five


def test_a_low_rating_weighs_a_fixed_fraction_of_its_linear_weight_by_default() -> None:
    one_of_five, two_of_five, three_of_five = weights_of([K.RATED] * 3, [1, 2, 3], scale=5.0)
    low = EngineConfig().low_rating_weight
    assert 0 < low < 1
    assert one_of_five == pytest.approx(low * 0.2)
    assert two_of_five == pytest.approx(low * 0.4)
    assert three_of_five == pytest.approx(0.6)  # 3 of 5 is not low: its full linear weight


def test_a_low_rating_weight_of_zero_makes_low_ratings_seen_but_not_positive() -> None:
    config = EngineConfig.from_overrides({"low_rating_weight": 0.0})
    one_of_five, three_of_five = event_weights(
        np.array([K.RATED, K.RATED], dtype=np.int8), np.array([1, 3], dtype=np.float32), config, 5.0
    )
    assert one_of_five == 0.0
    assert three_of_five > 0


def test_the_rating_scale_is_the_largest_rating_in_the_data() -> None:
    arrays = events([(1, "a", K.RATED, 7, 0), (1, "b", K.RATED, 10, 0), (1, "c", K.LIKED, None, 0)])
    assert rating_scale(arrays) == 10.0


def test_repeated_events_on_a_pair_keep_the_strongest_weight_once() -> None:
    arrays = events([(1, "a", K.WATCHED, None, 10), (1, "a", K.LIKED, None, 20), (1, "a", K.WATCHLIST, None, 5)])
    matrix = build_interaction_matrix(arrays, EngineConfig())
    assert matrix.seen.nnz == 1
    assert matrix.seen.data[0] == pytest.approx(EngineConfig().weight_liked)
    assert matrix.seen_timestamps.tolist() == [20]


def test_a_dislike_wins_over_other_events_on_the_same_item() -> None:
    arrays = events([(1, "a", K.LIKED, None, 10), (1, "a", K.DISLIKED, None, 20), (1, "b", K.LIKED, None, 0)])
    matrix = build_interaction_matrix(arrays, EngineConfig())
    assert matrix.seen.toarray().tolist() == [[DISLIKED_WEIGHT, EngineConfig().weight_liked]]
    positives = matrix.positives()
    assert positives.col.tolist() == [1]


def test_rows_and_columns_follow_sorted_ids() -> None:
    arrays = events([(9, "z", K.LIKED, None, 0), (3, "b", K.LIKED, None, 0), (3, "m", K.WATCHED, None, 0)])
    matrix = build_interaction_matrix(arrays, EngineConfig(), extra_item_ids=["c"])
    assert matrix.user_ids.tolist() == [3, 9]
    assert matrix.item_ids.tolist() == ["b", "c", "m", "z"]
    assert matrix.shape == (2, 4)


def test_no_interactions_is_invalid_data() -> None:
    with pytest.raises(InvalidData):
        build_interaction_matrix(events([]), EngineConfig())


def test_item_features_are_identity_plus_genres_and_each_row_sums_to_one() -> None:
    catalog = [CatalogItem("a", "A", ("Drama", "War")), CatalogItem("b", "B", ("Drama",)), CatalogItem("c", "C", ())]
    features, genres = item_feature_matrix(np.array(["a", "b", "c"]), catalog)
    assert genres.tolist() == ["Drama", "War"]
    dense = features.toarray()
    assert dense.shape == (3, 5)
    np.testing.assert_allclose(dense.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(dense[0], [1 / 3, 0, 0, 1 / 3, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(dense[2], [0, 0, 1, 0, 0])
