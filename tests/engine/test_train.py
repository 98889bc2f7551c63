from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

from recommendations.domain import CatalogItem, InteractionKind
from recommendations.engine.candidates import Candidate, Context, fit_candidate
from recommendations.engine.config import EngineConfig
from recommendations.engine.errors import EngineUnavailable, InvalidData
from recommendations.engine.matrix import build_interaction_matrix
from recommendations.engine.serving import Recommender
from recommendations.engine.train import train_model

from .conftest import clustered_interactions, events

# Small and quick; two threads on purpose, so the assertions must hold despite Hogwild updates.
# LightFM pinned: these tests are about the LightFM candidate (selection has its own tests).
FAST = EngineConfig.from_overrides(
    {"no_components": 8, "epochs": 30, "num_threads": 2, "pinned_models": {"*": "lightfm"}}
)


def test_importing_lightfm_loads_the_openmp_build() -> None:
    importlib.import_module("lightfm")
    assert "lightfm._lightfm_fast_openmp" in sys.modules


def test_training_recovers_each_users_taste_cluster() -> None:
    artifact = train_model(clustered_interactions(), [], FAST)
    recommender = Recommender(artifact)
    in_cluster = [
        item.item_id.startswith("a" if user % 2 == 0 else "b")
        for user in range(60)
        for item in recommender.recommend(user, k=3).items
    ]
    # Judged over all users: a single user's list may hold one stray item (Hogwild, tiny model).
    assert np.mean(in_cluster) >= 0.9


def test_each_epoch_is_reported_as_it_ends() -> None:
    reported: list[tuple[int, int]] = []
    config = EngineConfig.from_overrides(
        {"no_components": 4, "epochs": 4, "num_threads": 1, "pinned_models": {"*": "lightfm"}}
    )
    artifact = train_model(
        clustered_interactions(), [], config, on_epoch=lambda done, total: reported.append((done, total))
    )
    total = int(artifact.metadata["params"]["epochs"])  # selection scored 2 and 4 epochs; the final fit is one
    assert total in (2, 4)
    assert reported == [(n, total) for n in range(1, total + 1)]


def test_the_artifact_records_counts_config_and_rating_scale() -> None:
    artifact = train_model(clustered_interactions(), [], FAST)
    assert artifact.metadata["counts"]["users"] == 60
    assert artifact.metadata["counts"]["items"] == 20
    assert artifact.metadata["counts"]["positives"] == 360
    assert artifact.config == FAST
    assert artifact.item_factors.shape == (20, 8)
    assert artifact.popularity.shape == (20,)


def test_a_hybrid_model_covers_catalog_items_nobody_interacted_with() -> None:
    catalog = [CatalogItem(f"a{n:02d}", "", ("Drama",)) for n in range(10)]
    catalog += [CatalogItem(f"b{n:02d}", "", ("Comedy",)) for n in range(10)]
    catalog += [CatalogItem("new-drama", "", ("Drama",))]
    config = EngineConfig.from_overrides({**FAST.to_dict(), "use_item_features": True})
    artifact = train_model(clustered_interactions(), catalog, config)
    assert artifact.item_index("new-drama") is not None
    assert artifact.feature_names.tolist() == ["Comedy", "Drama"]
    # The cold item's representation comes from the genre it shares with cluster "a".
    similar = [s.item_id for s in Recommender(artifact).similar_items("new-drama", k=5)]
    assert sum(item_id.startswith("a") for item_id in similar) >= 4


def test_training_without_any_positive_is_invalid_data() -> None:
    only_dislikes = events([(1, "a", InteractionKind.DISLIKED, None, 0), (2, "b", InteractionKind.DISLIKED, None, 0)])
    with pytest.raises(InvalidData):
        train_model(only_dislikes, [], FAST)


def test_a_missing_lightfm_is_reported_as_engine_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lightfm(name: str) -> object:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", no_lightfm)
    with pytest.raises(EngineUnavailable) as raised:
        train_model(clustered_interactions(), [], FAST)
    assert raised.value.code == "engine_unavailable"


def test_scores_from_the_artifact_equal_lightfm_predictions() -> None:
    lightfm = importlib.import_module("lightfm")
    arrays = clustered_interactions()
    # Refit LightFM directly with one thread and the same seed: identical factors, so compare predict().
    single = EngineConfig.from_overrides({**FAST.to_dict(), "num_threads": 1})
    matrix = build_interaction_matrix(arrays, single)
    context = Context(matrix=matrix, arrays=arrays, catalog=[], config=single)
    artifact = fit_candidate(context, Candidate("lightfm", {"epochs": 30.0}))
    model = lightfm.LightFM(no_components=8, loss="warp", learning_rate=0.05, max_sampled=10, random_state=42)
    matrix = build_interaction_matrix(arrays, single).positives()
    model.fit(matrix, sample_weight=matrix, epochs=30, num_threads=1)
    expected = model.predict(np.zeros(20, dtype=np.int32), np.arange(20, dtype=np.int32))
    ours = artifact.item_factors @ artifact.user_factors[0] + artifact.item_biases
    np.testing.assert_allclose(ours, expected - model.user_biases[0], rtol=1e-4, atol=1e-5)
