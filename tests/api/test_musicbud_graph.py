"""End to end on MusicBud's own graph (NEO4J_GRAPH_PROFILE=musicbud): seed it, train from it, serve it over HTTP."""

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
from tests.api.conftest import FAST_ENGINE, PASSWORD, Api, obtain_tokens
from tests.conftest import asgi_client

SEED = ["--users", "60", "--movies", "80", "--manga", "40", "--anime", "60", "--interactions-per-user", "12",
        "--seed", "3", "--graph-profile", "musicbud"]  # fmt: skip


@pytest.fixture
def musicbud_graph(settings: Any, neo4j_settings: None, transactional_db: None, tmp_path: Path) -> Iterator[str]:
    settings.RECOMMENDATIONS_SOURCE = "neo4j"
    settings.NEO4J_GRAPH_PROFILE = "musicbud"
    settings.NEO4J_LABEL_PREFIX = f"Test{uuid.uuid4().hex[:10]}"
    settings.MODEL_DIR = tmp_path / "models"
    settings.RECOMMENDATIONS_ENGINE = FAST_ENGINE
    try:
        yield settings.NEO4J_LABEL_PREFIX
    finally:
        drop_prefixed_graph(graph.get_driver(), GraphLabels(settings.NEO4J_LABEL_PREFIX, MUSICBUD))


def likes_of(prefix: str, username: str) -> list[str]:
    records = (
        graph.get_driver()
        .execute_query(
            f"MATCH (:`{prefix}ParentUser` {{username: $username}})-[:CONNECTED_TO_IMDB]->(:`{prefix}ImdbUser`)"
            f"-[r:LIKES]->(m:`{prefix}ImdbMovie`) RETURN 'tt' + m.imdb_id AS item, properties(r) AS props",
            {"username": username},
        )
        .records
    )
    assert all(record["props"] == {} for record in records)
    return sorted(record["item"] for record in records)


async def test_a_musicbud_user_gets_personal_recommendations_from_the_graph_and_a_like_becomes_a_likes_edge(
    musicbud_graph: str,
) -> None:
    from django.contrib.auth import get_user_model

    await sync_to_async(call_command)("seed_recommendations", *SEED, verbosity=0)
    # The Django login user and the MusicBud person are the same username.
    await sync_to_async(get_user_model().objects.create_user)(username="fan7", password=PASSWORD)
    await sync_to_async(call_command)("train_recommendations", "--type", "all", verbosity=0)
    client = asgi_client()
    api = Api(client, (await obtain_tokens(client, "fan7"))["access"])

    page = (await api.get("/v1/recommendations/movies/", limit=5)).json()
    assert page["source"] == "model"  # known to the model: a personal list, not the popular one
    assert len(page["items"]) == 5
    assert all(item["title"] for item in page["items"])
    liked_before = await sync_to_async(likes_of)(musicbud_graph, "fan7")
    target = page["items"][0]["item_id"]
    assert target not in liked_before

    event = {"client_event_id": uuid.uuid4().hex, "content_type": "movies", "item_id": target, "event": "like"}
    assert (await api.post("/v1/recommendations/events/", event)).status_code == 201
    assert await sync_to_async(likes_of)(musicbud_graph, "fan7") == sorted([*liked_before, target])
    after = await api.get("/v1/recommendations/movies/", limit=5)
    assert after.headers["X-Cache"] == "miss"
    assert target not in [item["item_id"] for item in after.json()["items"]]

    public = (await asgi_client().get("/v1/recommendations/public/", params={"type": "all"})).json()
    assert public["success"] is True
    assert public["is_personalized"] is False
    for ct in ContentType:
        assert public["data"][ct.value]
        assert all(item["title"] for item in public["data"][ct.value])
    await graph.close_async_driver()
