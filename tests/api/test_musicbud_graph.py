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
from tests.api.dart_readers import read_bud_search_result, read_common_list
from tests.api.musicbud_backend import Backend
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


async def test_a_musicbud_token_finds_buds_named_by_their_parent_user_uid_and_what_they_have_in_common(
    musicbud_graph: str, musicbud_backend: Backend
) -> None:
    """The issue's black-box client: it holds only a token signed as MusicBud's backend signs them."""
    from django.contrib.auth import get_user_model

    await sync_to_async(call_command)("seed_recommendations", *SEED, verbosity=0)
    # The other people have accounts here too (buds are accounts); the caller's is created by their first call.
    await get_user_model().objects.abulk_create(
        get_user_model()(username=f"fan{n}", password="!") for n in range(1, 61) if n != 7
    )
    await sync_to_async(call_command)("train_recommendations", "--type", "all", verbosity=0)
    musicbud_backend.add_user(700, "fan7")
    headers = musicbud_backend.headers(700)
    client = asgi_client()

    listed = await client.post("/v1/bud/top/anime/", headers=headers)
    assert listed.status_code == 200, listed.content
    buds = read_bud_search_result(listed.json())["data"]["buds"]
    assert buds
    people = {
        r["username"]: r["uid"]
        for r in graph.get_driver()
        .execute_query(f"MATCH (p:`{musicbud_graph}ParentUser`) RETURN p.username AS username, p.uid AS uid")
        .records
    }
    assert [bud["uid"] for bud in buds] == [people[bud["display_name"]] for bud in buds]

    common = await client.post("/v1/bud/common/top/anime/", json={"bud_id": buds[0]["uid"]}, headers=headers)
    assert common.status_code == 200, common.content
    assert read_common_list(common.json(), extra_ints=("episodes",))

    # Pictures come from MusicBud's (:Anime)-[:HAS_PICTURE]->(:MainPicture {medium, large}) nodes.
    page = (await client.get("/v1/recommendations/anime/", params={"limit": 20}, headers=headers)).json()
    pictures = {item["item_id"]: item["image_url"] for item in page["items"]}
    assert any(pictures.values())
    assert all(url == f"https://images.example.org/anime/{item_id}.jpg" for item_id, url in pictures.items() if url)
    stored = (
        graph.get_driver()
        .execute_query(
            f"MATCH (a:`{musicbud_graph}Anime`)-[:HAS_PICTURE]->(p:`{musicbud_graph}MainPicture`) "
            "RETURN count(p) AS n, count(p.medium) AS medium, count(p.large) AS large"
        )
        .records[0]
    )
    assert stored["n"] == stored["medium"] == stored["large"] > 0

    wrong = await client.post("/v1/bud/top/anime/", headers=musicbud_backend.headers(700, key="k" * 40))
    assert wrong.status_code == 401
