"""RECOMMENDATIONS_TRAINER=spark: every type trained by Spark MLlib's ALS (local[2]) from each store, then served.

One Spark session serves the whole test run (the session-scoped ``spark_master`` fixture); the data is the
API tests' small seeded set and the grid one point, so each training is one validation fit and one
refit on Spark: a few seconds each.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from musicbud import graph
from recommendations.data.graph_profiles import MUSICBUD
from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
from recommendations.domain import ContentType
from recommendations.engine import load_artifact
from recommendations.engine.artifact import CURRENT, FACTORS
from recommendations.models import TrainingLog, TrainingStatus
from recommendations.training import train_content_type
from tests.api.conftest import Api, _fresh_cache, api, make_user, obtain_tokens, seeded
from tests.api.test_neo4j_source import graph_source
from tests.conftest import asgi_client

__all__ = ["_fresh_cache", "api", "graph_source", "seeded"]

# One grid point, few iterations: the tests are about the path, not the fit's quality. Pinned:
# on data this small popularity may win selection, and the point is a served Spark model.
SPARK_ENGINE = {"num_threads": 1, "als_factors": [8], "spark_als_regularizations": [0.1], "als_iterations": 5,
                "pinned_models": {"*": "spark_als"}}  # fmt: skip


@pytest.fixture
def on_spark(settings: Any, tmp_path: Path, spark_master: str) -> Path:
    settings.RECOMMENDATIONS_TRAINER = {"*": "spark"}
    settings.SPARK_MASTER_URL = spark_master
    settings.SPARK_STAGING_DIR = tmp_path / "spark"
    settings.RECOMMENDATIONS_ENGINE = SPARK_ENGINE
    settings.MODEL_DIR = tmp_path / "models"
    return Path(settings.MODEL_DIR)


def check_trained_on_spark(log: TrainingLog, model_dir: Path, content_type: ContentType) -> None:
    assert log.status == TrainingStatus.SUCCEEDED, log.error
    assert log.metrics["trainer"] == {"name": "spark", "spark_master": "local[2]"}
    selection = log.metrics["selection"]
    assert selection["winner"] == "spark_als"
    # The holdout metrics of the validation split, computed by the same code as for a local model.
    assert log.ndcg_at_k is not None
    assert log.metrics["model"]["ndcg@10"] == pytest.approx(log.ndcg_at_k, abs=1e-5)
    assert {trial["model"] for trial in selection["trials"]} == {"popularity", "spark_als"}
    assert selection["budget"]["refit_s"] > 0
    type_dir = model_dir / content_type.value
    artifact = load_artifact(type_dir / (type_dir / CURRENT).read_text().strip())
    assert artifact.version == log.model_version
    assert artifact.kind == FACTORS
    # The factors selection chose: the grid's one point (8) and what the climb past its edge found better.
    factors = int(selection["params"]["factors"])
    assert factors >= 8
    assert artifact.user_factors.shape == (log.users, factors)
    assert artifact.item_factors.shape == (log.items, factors)
    assert float(abs(artifact.item_factors).sum()) > 0


async def served_shape(api: Api, content_type: ContentType) -> dict[str, Any]:
    """What a client sees of a type: a page and similar items (their keys, sources and reasons)."""
    page = await api.get(f"/v1/recommendations/{content_type.value}/", limit=5)
    assert page.status_code == 200, page.json()
    body = page.json()
    item = body["items"][0]["item_id"]
    similar = await api.get(f"/v1/recommendations/{content_type.value}/{item}/similar/", limit=3)
    assert similar.status_code == 200, similar.json()
    return {
        "page_keys": sorted(body),
        "item_keys": sorted(body["items"][0]),
        "source": body["source"],
        "reasons": sorted({entry["reason"]["code"] for entry in body["items"]}),
        "similar_keys": sorted(similar.json()),
        "similar_count": len(similar.json()["items"]),
        "version": body["model_version"],
    }


async def newcomer(user_id: int) -> Api:
    """A user the model has never seen: their pages are folded in from what they like after the training."""
    await sync_to_async(make_user)(user_id)
    client = asgi_client()
    return Api(client, (await obtain_tokens(client, f"user{user_id}"))["access"])


async def folded_in(user: Api, content_type: ContentType, liked: str) -> dict[str, Any]:
    page = await user.get(f"/v1/recommendations/{content_type.value}/", limit=5)
    assert page.status_code == 200, page.json()
    items = page.json()["items"]
    return {"source": page.json()["source"], "liked_excluded": liked not in [i["item_id"] for i in items],
            "reasons": sorted({i["reason"]["code"] for i in items})}  # fmt: skip


@pytest.mark.usefixtures("seeded", "postgres_settings")
async def test_spark_trains_every_type_from_the_built_in_store_and_serves_it_as_a_local_model_is_served(
    api: Api, on_spark: Path, settings: Any
) -> None:
    logs = {ct: await sync_to_async(train_content_type)(ct, triggered_by="test") for ct in ContentType}
    served, folds, likes = {}, {}, {}
    new = await newcomer(4242)
    for ct, log in logs.items():
        check_trained_on_spark(log, on_spark, ct)
        served[ct] = await served_shape(api, ct)
        assert served[ct]["version"] == log.model_version
        # A like after the training: the newcomer's page is folded in from the Spark model's item factors
        # (the API calls a folded-in page "model"; with no history the newcomer would get "popularity").
        likes[ct] = (await api.get(f"/v1/recommendations/{ct.value}/", limit=1)).json()["items"][0]["item_id"]
        like = {"client_event_id": str(uuid.uuid4()), "content_type": ct.value, "item_id": likes[ct], "event": "like"}
        assert (await new.post("/v1/recommendations/events/", like)).status_code == 201
        folds[ct] = await folded_in(new, ct, likes[ct])
        assert folds[ct] == {"source": "model", "liked_excluded": True, "reasons": ["because_you_liked"]}

    # The same user and data with a local model of the same kind: the API cannot tell them apart.
    settings.RECOMMENDATIONS_TRAINER = {"*": "local"}
    settings.RECOMMENDATIONS_ENGINE = {**SPARK_ENGINE, "pinned_models": {"*": "als"}}
    for ct in ContentType:
        local = await sync_to_async(train_content_type)(ct, triggered_by="test", force=True)
        assert local.metrics["trainer"]["name"] == "local"
        assert local.metrics["selection"]["winner"] == "als"
        local_shape = await served_shape(api, ct)
        assert local_shape["version"] == local.model_version
        assert {**local_shape, "version": None} == {**served[ct], "version": None}
        assert await folded_in(new, ct, likes[ct]) == folds[ct]
        assert served[ct]["source"] == "model"
        assert served[ct]["reasons"] == ["because_you_liked"]


@pytest.mark.usefixtures("graph_source", "transactional_db")
async def test_spark_trains_every_type_from_neo4j(api: Api, on_spark: Path) -> None:
    for ct in ContentType:
        log = await sync_to_async(train_content_type)(ct, triggered_by="test")
        check_trained_on_spark(log, on_spark, ct)
        shape = await served_shape(api, ct)
        assert shape["source"] == "model"
        assert shape["version"] == log.model_version


@pytest.fixture
def musicbud_graph(settings: Any, neo4j_settings: None, transactional_db: None) -> Iterator[str]:
    settings.RECOMMENDATIONS_SOURCE = "neo4j"
    settings.NEO4J_GRAPH_PROFILE = "musicbud"
    settings.NEO4J_LABEL_PREFIX = f"Test{uuid.uuid4().hex[:10]}"
    try:
        yield settings.NEO4J_LABEL_PREFIX
    finally:
        drop_prefixed_graph(graph.get_driver(), GraphLabels(settings.NEO4J_LABEL_PREFIX, MUSICBUD))


@pytest.mark.usefixtures("musicbud_graph")
def test_spark_trains_from_musicbuds_own_graph_through_the_same_extraction(on_spark: Path) -> None:
    seed = ["--users", "40", "--movies", "50", "--manga", "10", "--anime", "10", "--interactions-per-user", "10",
            "--seed", "5", "--graph-profile", "musicbud"]  # fmt: skip
    call_command("seed_recommendations", *seed, verbosity=0)
    log = train_content_type(ContentType.MOVIES, triggered_by="test")
    check_trained_on_spark(log, on_spark, ContentType.MOVIES)


@pytest.mark.django_db
def test_a_pin_of_a_local_model_on_a_type_trained_on_spark_fails_the_run_with_the_reason(
    on_spark: Path, settings: Any
) -> None:
    settings.RECOMMENDATIONS_ENGINE = {**SPARK_ENGINE, "pinned_models": {"movies": "ease"}}
    with pytest.raises(ValueError, match="trained on Spark"):
        train_content_type(ContentType.MOVIES, triggered_by="test")
    log = TrainingLog.objects.get()
    assert log.status == TrainingStatus.FAILED
    assert "InvalidConfig" in log.error
