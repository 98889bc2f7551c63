"""The API behaves the same when the interactions live in Neo4j (RECOMMENDATIONS_SOURCE=neo4j)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from musicbud import graph
from recommendations.data import get_interaction_store
from recommendations.data.loading import write_dataset
from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from tests.api.conftest import API_SPEC, SEEDED_USER_ID, Api


@pytest.fixture
def graph_source(settings: Any, neo4j_settings: None) -> Iterator[None]:
    """API_SPEC in a graph of its own (a label prefix on the shared server), removed afterwards."""
    settings.RECOMMENDATIONS_SOURCE = "neo4j"
    settings.NEO4J_LABEL_PREFIX = f"Test{uuid.uuid4().hex[:10]}"
    store = get_interaction_store()
    store.ensure_schema()
    for ct in ContentType:
        write_dataset(store, generate_content(API_SPEC, ct), progress=False)
    try:
        yield
    finally:
        drop_prefixed_graph(graph.get_driver(), GraphLabels(settings.NEO4J_LABEL_PREFIX))


pytestmark = pytest.mark.usefixtures("graph_source", "models")


async def test_recommendations_from_the_graph_match_those_from_the_built_in_store(api: Api, settings: Any) -> None:
    from_graph = (await api.get("/v1/recommendations/movies/", limit=8)).json()
    assert from_graph["source"] == "model"
    assert all(item["title"] for item in from_graph["items"])

    settings.RECOMMENDATIONS_SOURCE = "database"
    store = get_interaction_store()
    for ct in ContentType:
        await store_write(store, ct)
    from recommendations import caching

    await caching.invalidate_all()
    from_orm = (await api.get("/v1/recommendations/movies/", limit=8)).json()
    assert [i["item_id"] for i in from_orm["items"]] == [i["item_id"] for i in from_graph["items"]]
    assert [i["title"] for i in from_orm["items"]] == [i["title"] for i in from_graph["items"]]


async def store_write(store: Any, ct: ContentType) -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(write_dataset)(store, generate_content(API_SPEC, ct), progress=False)


async def test_a_like_is_recorded_in_the_graph_and_excluded_at_once(api: Api) -> None:
    before = (await api.get("/v1/recommendations/anime/", limit=5)).json()["items"]
    liked = before[0]["item_id"]
    response = await api.post(
        "/v1/recommendations/events/",
        {"client_event_id": str(uuid.uuid4()), "content_type": "anime", "item_id": liked, "event": "like"},
    )
    assert response.status_code == 201, response.json()
    history = await get_interaction_store().auser_history(ContentType.ANIME, SEEDED_USER_ID)
    assert liked in history.item_ids.tolist()
    after = await api.get("/v1/recommendations/anime/", limit=5)
    assert after.headers["X-Cache"] == "miss"
    assert liked not in [item["item_id"] for item in after.json()["items"]]


async def test_similar_items_and_cold_users_work_on_the_graph(api: Api) -> None:
    item = (await api.get("/v1/recommendations/manga/", limit=1)).json()["items"][0]["item_id"]
    similar = await api.get(f"/v1/recommendations/manga/{item}/similar/", limit=3)
    assert similar.status_code == 200
    assert len(similar.json()["items"]) == 3
    assert all(entry["title"] for entry in similar.json()["items"])
