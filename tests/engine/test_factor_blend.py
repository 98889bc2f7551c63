"""ALS blended with RP3beta: one factor model carrying item-item weights, scored z(ALS) + w * z(RP3beta) per user."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommendations.engine.artifact import load_artifact, save_artifact
from recommendations.engine.candidates import Candidate, Context, fit_candidate
from recommendations.engine.config import EngineConfig
from recommendations.engine.matrix import build_interaction_matrix
from recommendations.engine.serving import Recommender, standardised

from .conftest import timed_clusters

CONFIG = EngineConfig.from_overrides({"num_threads": 1})
ALS = {"factors": 4.0, "regularization": 1.0, "alpha": 5.0}
RP3 = {"rp3beta_alpha": 1.0, "rp3beta_beta": 0.3}


def fitted(**params: float) -> Recommender:
    arrays = timed_clusters()
    ctx = Context(matrix=build_interaction_matrix(arrays, CONFIG), arrays=arrays, catalog=[], config=CONFIG)
    return Recommender(fit_candidate(ctx, Candidate("als", {**ALS, **params})))


def test_the_blend_is_the_sum_of_both_models_standardised_scores() -> None:
    plain = fitted()
    blend = fitted(**RP3, rp3beta_weight=2.0)
    assert plain.factor_blend == 0.0
    assert blend.factor_blend == 2.0
    rows = np.arange(10)
    item_item = (blend._history_matrix(rows) @ blend._neighbour_matrix).toarray().astype(np.float32)
    als = plain.score_rows(rows)
    expected = standardised(als, axis=1) + 2.0 * standardised(item_item, axis=1)
    np.testing.assert_allclose(blend.score_rows(rows), expected, rtol=1e-4, atol=1e-4)


def test_one_user_and_the_batch_rank_a_blend_alike() -> None:
    blend = fitted(**RP3, rp3beta_weight=1.0)
    user = int(blend.artifact.user_ids[3])
    single = [r.item_id for r in blend.recommend(user, k=5).items]
    batch = blend.recommend_batch(np.array([user]), k=5)
    assert single == [str(blend.artifact.item_ids[i]) for i in batch.item_indices[0]]


def test_a_blended_factor_model_survives_a_save_and_load(tmp_path: Path) -> None:
    blend = fitted(**RP3, rp3beta_weight=1.0)
    loaded = Recommender(load_artifact(save_artifact(blend.artifact, tmp_path, "movies")))
    assert loaded.factor_blend == 1.0
    assert loaded.artifact.neighbours is not None
    rows = np.arange(5)
    assert loaded.score_rows(rows) == pytest.approx(blend.score_rows(rows), abs=1e-5)


def test_an_exact_batch_of_a_blend_gives_a_user_the_same_items_and_scores_whatever_the_batch() -> None:
    blend = fitted(**RP3, rp3beta_weight=1.0)
    users = np.asarray(blend.artifact.user_ids, dtype=np.int64)
    whole = blend.recommend_batch(users, k=5, exact=True)
    for size in (1, 7):
        for start in range(0, users.shape[0], size):
            part = blend.recommend_batch(users[start : start + size], k=5, exact=True)
            assert part.item_indices.tolist() == whole.item_indices[start : start + size].tolist()
            assert part.scores.tobytes() == whole.scores[start : start + size].tobytes()


def test_an_exact_batch_ranks_a_blend_as_the_page_does() -> None:
    blend = fitted(**RP3, rp3beta_weight=1.0)
    for user in blend.artifact.user_ids[:10]:
        page = blend.recommend(int(user), k=5)
        batch = blend.recommend_batch(np.array([int(user)]), k=5, exact=True)
        assert [str(blend.artifact.item_ids[i]) for i in batch.item_indices[0]] == [r.item_id for r in page.items]
        assert batch.scores[0] == pytest.approx([r.score for r in page.items], abs=1e-4)
