"""Every serving feature for the item-item kind (EASE), on a hand-made neighbour matrix with known scores."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.domain import InteractionKind as K
from recommendations.engine.errors import UnknownItem
from recommendations.engine.serving import RecommendationList, Recommender

from .conftest import make_item_item_artifact

DAY = 86_400
# Liking i00 adds to i01 (0.9), i02 (0.5) and takes from i03 (-0.2); i04 adds to i05 and i01.
NEIGHBOURS = {
    0: {1: 0.9, 2: 0.5, 3: -0.2},
    1: {0: 0.8, 2: 0.4},
    2: {0: 0.3, 1: 0.3, 6: 0.05},
    4: {5: 0.7, 1: 0.2, 6: 0.1},
    5: {4: 0.6, 6: 0.3},
    6: {5: 0.2, 7: 0.15},
}
POPULARITY = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]


def recommender(**scoring: float) -> Recommender:
    return Recommender(
        make_item_item_artifact(
            neighbours=NEIGHBOURS,
            n_items=8,
            seen={1: {0: 1.0}, 2: {0: 1.0, 4: 0.5, 7: -1.0}, 3: {3: 0.0}},
            timestamps={2: {0: 1_000 * DAY, 4: 1_030 * DAY, 7: 1_030 * DAY}},
            popularity=POPULARITY,
            scoring=scoring,
        )
    )


def ids(result: RecommendationList) -> list[str]:
    return [r.item_id for r in result.items]


def test_scores_are_the_history_row_times_the_neighbour_matrix() -> None:
    result = recommender().recommend(2, k=8)
    # user 2: 1.0 * row(i00) + 0.5 * row(i04); i00 and i04 seen, i07 disliked
    expected = {"i01": 0.9 + 0.5 * 0.2, "i02": 0.5, "i05": 0.5 * 0.7, "i06": 0.5 * 0.1, "i03": -0.2}
    assert {r.item_id: r.score for r in result.items} == pytest.approx(expected)
    assert ids(result) == ["i01", "i02", "i05", "i06", "i03"]
    assert result.source == "model"


def test_seen_and_disliked_items_are_never_recommended() -> None:
    result = recommender().recommend(2, k=8)
    assert not {"i00", "i04", "i07"} & set(ids(result))


def test_pages_are_slices_of_one_ranking() -> None:
    rec = recommender()
    full = ids(rec.recommend(2, k=5))
    pages = ids(rec.recommend(2, k=2)) + ids(rec.recommend(2, k=2, offset=2)) + ids(rec.recommend(2, k=2, offset=4))
    assert pages == full


def test_a_new_like_changes_the_scores_exactly() -> None:
    from recommendations.engine.serving import History

    history = History.of(["i00", "i05"], [K.LIKED, K.LIKED])
    result = recommender().recommend(1, k=3, history=history)
    assert result.source == "fold_in"
    # 1.0 * row(i00) + 1.0 * row(i05): i01 0.9, i02 0.5, i04 0.6, i06 0.3
    assert [(r.item_id, round(r.score, 6)) for r in result.items] == [("i01", 0.9), ("i04", 0.6), ("i02", 0.5)]


def test_because_you_liked_names_the_history_item_adding_the_most() -> None:
    reasons = {r.item_id: r.because_item_id for r in recommender().recommend(2, k=4).items}
    assert reasons["i01"] == "i00"  # 0.9 from i00 beats 0.5 * 0.2 from i04
    assert reasons["i05"] == "i04"
    assert reasons["i06"] == "i04"


def test_similar_items_are_the_neighbour_row_by_weight() -> None:
    similar = recommender().similar_items("i00", k=5)
    assert [s.item_id for s in similar] == ["i01", "i02"]
    assert [s.similarity for s in similar] == pytest.approx([0.9, 0.5])
    assert [s.item_id for s in recommender().similar_items("i00", k=1, offset=1)] == ["i02"]
    with pytest.raises(UnknownItem):
        recommender().similar_items("nope")


def test_a_user_without_positives_gets_popularity() -> None:
    cold = recommender().recommend(3, k=3)  # only a low rating (weight 0)
    assert cold.source == "popularity"
    assert ids(cold) == ["i07", "i06", "i05"]
    assert ids(recommender().recommend(999, k=2)) == ["i07", "i06"]  # unknown user


def test_diversity_trades_score_for_items_unlike_those_already_picked() -> None:
    rec = recommender()
    plain = ids(rec.recommend(1, k=2))
    assert plain == ["i01", "i02"]
    # i01 and i02 have similar neighbour rows (both point at i00); at full diversity the second pick
    # is the item least like i01.
    diverse = ids(rec.recommend(1, k=2, diversity=1.0))
    assert diverse[0] == "i01"
    assert diverse[1] != "i02"


def test_old_history_fades_with_the_chosen_half_life() -> None:
    # user 2 liked i00 30 days before i04: with a 30-day half-life i00 weighs 0.5 instead of 1.0.
    result = recommender(history_half_life_days=30.0).recommend(2, k=8)
    scores = {r.item_id: r.score for r in result.items}
    assert scores["i02"] == pytest.approx(0.5 * 0.5)
    assert scores["i05"] == pytest.approx(0.5 * 0.7)
    assert ids(result)[:2] == ["i01", "i05"]


def test_a_popularity_blend_lifts_popular_items() -> None:
    plain = ids(recommender().recommend(1, k=8))
    blended = ids(recommender(popularity_blend=1.0).recommend(1, k=8))
    # i04..i07 get nothing from user 1's history: without a blend the item index orders them, with
    # it their popularity does (i07 is the most popular item).
    assert plain.index("i04") < plain.index("i07")
    assert blended.index("i07") < blended.index("i04")
    assert blended[0] == "i01"


def test_batch_top_k_is_what_recommend_gives_each_user() -> None:
    for scoring in ({}, {"history_half_life_days": 30.0}, {"popularity_blend": 0.3}):
        rec = recommender(**scoring)
        users = np.array([1, 2, 3, 999], dtype=np.int64)
        batch = rec.recommend_batch(users, k=3)
        for row, user in enumerate(users.tolist()):
            expected = ids(rec.recommend(user, k=3))
            got = [str(rec.artifact.item_ids[i]) for i in batch.item_indices[row] if i >= 0]
            if user != 3:  # user 3 has no positive: recommend() serves popularity, batch its (empty) scores
                assert got == expected, (scoring, user)
        assert batch.from_popularity.tolist() == [False, False, False, True]


def test_the_popularity_baseline_batch_skips_seen_items() -> None:
    top = recommender().popular_batch(np.array([2], dtype=np.int64), k=3)
    assert top.tolist() == [[6, 5, 3]]  # i07 disliked and i04 seen are skipped


def test_excluded_items_are_not_recommended() -> None:
    result = recommender().recommend(2, k=3, exclude=["i01", "not-in-the-model"])
    assert ids(result) == ["i02", "i05", "i06"]


def test_a_new_dislike_removes_the_item_and_its_contribution() -> None:
    from recommendations.engine.serving import History

    # User 1 liked i00 (trained); now also likes i04 and dislikes i01, the model's best pick for them.
    history = History.of(["i00", "i04", "i01"], [K.LIKED, K.LIKED, K.DISLIKED])
    result = recommender().recommend(1, k=8, history=history)
    assert "i01" not in ids(result)
    assert {r.item_id: r.score for r in result.items}["i05"] == pytest.approx(0.7)  # from i04 alone
    assert result.source == "fold_in"


def test_a_user_the_model_never_saw_is_scored_exactly_from_their_history() -> None:
    from recommendations.engine.serving import History

    result = recommender().recommend(12345, k=2, history=History.of(["i04"], [K.LIKED]))
    assert result.source == "fold_in"
    assert [(r.item_id, round(r.score, 6), r.because_item_id) for r in result.items] == [
        ("i05", 0.7, "i04"),
        ("i01", 0.2, "i04"),
    ]
