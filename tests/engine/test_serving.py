from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from recommendations.domain import InteractionKind
from recommendations.engine.errors import UnknownItem
from recommendations.engine.matrix import DISLIKED_WEIGHT
from recommendations.engine.serving import (
    REASON_BECAUSE_YOU_LIKED,
    REASON_POPULAR,
    History,
    Recommendation,
    RecommendationList,
    Recommender,
    top_indices,
)

from .conftest import make_artifact

K = InteractionKind

# Two directions of taste: items 0-2 point along x, items 3-4 along y, item 5 in between.
ITEMS = [[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0], [0.1, 0.9], [0.5, 0.5]]


@pytest.fixture
def recommender() -> Recommender:
    artifact = make_artifact(
        item_factors=ITEMS,
        user_factors={1: [1.0, 0.0], 2: [0.0, 1.0]},
        seen={1: {0: 1.0}, 2: {3: 1.0, 4: float(DISLIKED_WEIGHT)}},
        popularity=[5.0, 1.0, 2.0, 6.0, 3.0, 4.0],
    )
    return Recommender(artifact)


def ids(result: RecommendationList | Sequence[Recommendation]) -> list[str]:
    items = result.items if isinstance(result, RecommendationList) else result
    return [item.item_id for item in items]


def test_a_known_user_gets_the_model_ranking_without_items_already_seen(recommender: Recommender) -> None:
    result = recommender.recommend(1, k=3)
    assert result.source == "model"
    assert ids(result) == ["i01", "i02", "i05"]
    assert result.model_version == recommender.artifact.version


def test_disliked_items_are_never_recommended(recommender: Recommender) -> None:
    # Item 4 is the second-best match for user 2's taste, but they disliked it.
    assert "i04" not in ids(recommender.recommend(2, k=10))


def test_a_dislike_in_the_current_history_removes_the_item_at_once(recommender: Recommender) -> None:
    history = History.of(["i00", "i01"], [K.LIKED, K.DISLIKED])
    assert "i01" not in ids(recommender.recommend(1, k=10, history=history))


def test_excluded_items_are_not_recommended(recommender: Recommender) -> None:
    assert ids(recommender.recommend(1, k=2, exclude=["i01", "unknown-id"])) == ["i02", "i05"]


def test_k_larger_than_the_catalog_returns_every_unseen_item_once(recommender: Recommender) -> None:
    assert sorted(ids(recommender.recommend(1, k=50))) == ["i01", "i02", "i03", "i04", "i05"]


def test_pages_are_slices_of_one_ranking_even_when_scores_tie() -> None:
    artifact = make_artifact(item_factors=[[1.0, 0.0]] * 12, user_factors={1: [1.0, 0.0]}, seen={1: {4: 1.0}})
    recommender = Recommender(artifact)
    pages = [ids(recommender.recommend(1, k=3, offset=offset)) for offset in (0, 3, 6, 9)]
    flat = [item for page in pages for item in page]
    assert flat == ids(recommender.recommend(1, k=12))
    assert len(flat) == len(set(flat)) == 11
    assert flat[:3] == ["i00", "i01", "i02"]  # ties are broken by item id order


def test_top_indices_is_a_prefix_of_the_full_ranking_for_every_n() -> None:
    scores = np.array([3, 1, 3, 2, 3, 1, -np.inf, 2], dtype=np.float32)
    full = top_indices(scores, 8).tolist()
    assert full == [0, 2, 4, 3, 7, 1, 5]
    for n in range(1, 8):
        assert top_indices(scores, n).tolist() == full[:n]


def test_an_unknown_user_without_history_gets_popular_items(recommender: Recommender) -> None:
    result = recommender.recommend(99, k=3)
    assert result.source == "popularity"
    assert ids(result) == ["i03", "i00", "i05"]
    assert {item.reason for item in result.items} == {REASON_POPULAR}


def test_popular_items_skip_what_a_cold_user_has_seen(recommender: Recommender) -> None:
    art = recommender.artifact
    config = {**art.metadata["config"], "low_rating_weight": 0.0}  # a low rating: seen, no taste signal
    strict = Recommender(dataclasses.replace(art, metadata={**art.metadata, "config": config}))
    history = History.of(["i03"], [K.RATED], [1.0])
    assert ids(strict.recommend(99, k=2, history=history)) == ["i00", "i05"]


def test_a_user_with_only_dislikes_gets_popularity_without_the_disliked_items(recommender: Recommender) -> None:
    result = recommender.recommend(99, k=2, history=History.of(["i03"], [K.DISLIKED]))
    assert result.source == "popularity"
    assert ids(result) == ["i00", "i05"]


def test_an_unknown_user_with_likes_is_folded_in_from_their_history(recommender: Recommender) -> None:
    result = recommender.recommend(99, k=2, history=History.of(["i03"], [K.LIKED]))
    assert result.source == "fold_in"
    assert ids(result) == ["i04", "i05"]


def test_a_new_like_changes_the_recommendations_immediately(recommender: Recommender) -> None:
    before = recommender.recommend(1, k=3, history=History.of(["i00"], [K.LIKED]))
    after = recommender.recommend(1, k=3, history=History.of(["i00", "i03", "i04"], [K.LIKED, K.LIKED, K.LIKED]))
    assert before.source == "model"
    assert after.source == "fold_in"
    assert ids(after) != ids(before)
    assert "i05" in ids(after)[:2]  # the item between both tastes now leads


def test_a_history_the_model_already_knows_uses_the_trained_vector(recommender: Recommender) -> None:
    result = recommender.recommend(2, k=2, history=History.of(["i03", "i04"], [K.LIKED, K.DISLIKED]))
    assert result.source == "model"


def test_each_recommendation_names_the_liked_item_that_explains_it(recommender: Recommender) -> None:
    history = History.of(["i00", "i03"], [K.LIKED, K.LIKED])
    result = recommender.recommend(1, k=5, history=history)
    because = {item.item_id: item.because_item_id for item in result.items}
    assert {item.reason for item in result.items} == {REASON_BECAUSE_YOU_LIKED}
    assert because["i01"] == "i00"
    assert because["i04"] == "i03"


def test_diversity_brings_the_other_taste_into_the_first_places() -> None:
    artifact = make_artifact(
        item_factors=[[1.0, 0.0], [0.99, 0.01], [0.98, 0.02], [0.97, 0.03], [0.6, 0.8]],
        user_factors={1: [1.0, 0.2]},
    )
    recommender = Recommender(artifact)
    assert ids(recommender.recommend(1, k=2)) == ["i00", "i01"]
    assert ids(recommender.recommend(1, k=2, diversity=0.7)) == ["i00", "i04"]
    diverse = [ids(recommender.recommend(1, k=1, offset=n, diversity=0.7)) for n in range(5)]
    assert [page[0] for page in diverse] == ids(recommender.recommend(1, k=5, diversity=0.7))


def test_similar_items_are_ranked_by_cosine_and_exclude_the_item_itself(recommender: Recommender) -> None:
    similar = recommender.similar_items("i00", k=3)
    assert [s.item_id for s in similar] == ["i01", "i02", "i05"]
    assert similar[0].similarity == pytest.approx(0.9 / np.hypot(0.9, 0.1), rel=1e-5)


def test_similar_items_of_an_unknown_item_is_an_unknown_item_error(recommender: Recommender) -> None:
    with pytest.raises(UnknownItem) as raised:
        recommender.similar_items("nope")
    assert raised.value.code == "unknown_item"


def test_batch_recommendations_match_single_user_ones(recommender: Recommender) -> None:
    batch = recommender.recommend_batch(np.array([2, 99, 1]), k=3, chunk_size=1)
    art = recommender.artifact
    rows = [[str(art.item_ids[i]) for i in row if i >= 0] for row in batch.item_indices]
    assert rows[0] == ids(recommender.recommend(2, k=3))
    assert rows[2] == ids(recommender.recommend(1, k=3))
    assert rows[1] == ids(recommender.recommend(99, k=3))
    assert batch.from_popularity.tolist() == [False, True, False]


def test_popularity_batch_skips_each_users_seen_items(recommender: Recommender) -> None:
    top = recommender.popular_batch(np.array([1, 2]), k=2)
    assert top.tolist() == [[3, 5], [0, 5]]


def test_negative_k_or_offset_is_rejected(recommender: Recommender) -> None:
    with pytest.raises(ValueError, match="offset"):
        recommender.recommend(1, k=3, offset=-1)


def test_batch_top_k_equals_single_user_top_k_on_a_larger_random_model() -> None:
    rng = np.random.default_rng(5)
    # Halves make every score exact in float32 whatever the summation order (matrix-vector vs
    # matrix-matrix), and create many ties, which both paths must break by item index.
    items = (np.round(rng.standard_normal((3000, 4)) * 2) / 2).tolist()
    users = {u: (np.round(rng.standard_normal(4) * 2) / 2).tolist() for u in range(40)}
    seen = {u: {int(i): 1.0 for i in rng.choice(3000, size=30, replace=False)} for u in range(40)}
    recommender = Recommender(
        make_artifact(item_factors=items, user_factors=users, seen=seen, item_ids=[f"i{n:04d}" for n in range(3000)])
    )
    batch = recommender.recommend_batch(np.arange(40), k=15, chunk_size=16)
    for user in range(40):
        single = ids(recommender.recommend(user, k=15))
        assert [str(recommender.artifact.item_ids[i]) for i in batch.item_indices[user]] == single


def test_an_exact_batch_gives_a_user_the_same_items_and_scores_whatever_the_batch() -> None:
    # Random factors in 32 dimensions: a float32 matrix product rounds a user's scores differently for
    # 1, 7 or 200 users at a time (the BLAS kernel blocks the sums by shape), which the exact path must not.
    rng = np.random.default_rng(11)
    users = {u: rng.standard_normal(32).tolist() for u in range(200)}
    items = rng.standard_normal((2000, 32)).tolist()
    recommender = Recommender(
        make_artifact(item_factors=items, user_factors=users, item_ids=[f"i{n:04d}" for n in range(2000)])
    )
    whole = recommender.recommend_batch(np.arange(200), k=10, exact=True)
    for size in (1, 7):
        for start in range(0, 200, 29 if size == 1 else size):
            part = recommender.recommend_batch(np.arange(start, min(start + size, 200)), k=10, exact=True)
            assert part.item_indices.tolist() == whole.item_indices[start : start + size].tolist()
            assert part.scores.tobytes() == whole.scores[start : start + size].tobytes()
