"""Cypher injection: ids are validated by format before any query; free text is only ever a parameter.

Item ids carrying quotes, braces or Cypher keywords are refused with a 4xx and a stable code at every
endpoint that takes an id. Free text that reaches Neo4j (catalog titles and genres, event fields) is
stored and returned verbatim through the Neo4j backend, and the graph is otherwise untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async

from analytics.models import RecommendationEvent
from musicbud import graph
from recommendations import outbox
from recommendations.data.graph_profiles import GenreFormat, get_profile
from recommendations.data.neo4j_accounts import AccountGraphStore, SeedPerson, write_people
from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.data.neo4j_store import graph_store as graph_store_for
from recommendations.domain import CatalogItem, ContentType, InteractionKind
from tests.api.conftest import Api
from tests.reliability.support import record_figure

HOSTILE_IDS = [
    "tt1' OR 1=1 //",
    'tt1"}) DETACH DELETE n //',
    "1}) MATCH (n) DETACH DELETE n",
    "1 OR true",
    "tt0000001'",
    "{mal_id: 1}",
    "MATCH (n) RETURN n",
    "$key",
    "`Movie`",
    "1; DROP",
    "tt0000001\\u0027",
    "0x1",
    "-1",
    "1e3",
]
# The same text as titles, genres and event fields: all of it must come back byte for byte.
HOSTILE_TEXT = [
    "Robert'); MATCH (n) DETACH DELETE n; //",
    '"}) SET m.title = "pwned" //',
    "{title: $title} RETURN m",
    "` MERGE (x:Pwned) //",
    "CALL db.labels() YIELD label RETURN label",
    "\\' UNION MATCH (n) RETURN n //",
    "🎬 ünïcödé ]}{[",
]
STABLE_CODES = {"invalid_item_id", "invalid_input", "invalid_event", "not_found", "unknown_content_type"}


def _assert_refused(response: Any, where: str) -> str:
    assert 400 <= response.status_code < 500, (where, response.status_code, response.content)
    code: str = response.json()["error"]["code"]
    assert code in STABLE_CODES, (where, code)
    return code


@pytest.mark.usefixtures("seeded", "models")
async def test_hostile_item_ids_get_a_4xx_with_a_stable_code_at_every_endpoint_that_takes_one(api: Api) -> None:
    refused = 0
    for content_type in ContentType:
        for item_id in HOSTILE_IDS:
            similar = await api.get(f"/v1/recommendations/{content_type.value}/{quote(item_id, safe='')}/similar/")
            code = _assert_refused(similar, f"similar {item_id!r}")
            # Ids that fit in a path segment get the format error itself; one with a "/" matches no route.
            assert code == ("not_found" if "/" in item_id else "invalid_item_id"), (item_id, code)
            for kind in ("view", "like"):
                event = {"client_event_id": uuid.uuid4().hex, "content_type": content_type.value,
                         "item_id": item_id, "event": kind}  # fmt: skip
                posted = await api.post("/v1/recommendations/events/", event)
                _assert_refused(posted, f"event {kind} {item_id!r}")
                assert posted.json()["error"]["details"]["field"] == "item_id"
                refused += 3 if kind == "like" else 2
    # A hostile content type in the path is refused the same way.
    _assert_refused(await api.get("/v1/recommendations/movies' OR 1=1/"), "content type")
    assert await sync_to_async(RecommendationEvent.objects.count)() == 0
    record_figure("cypher_injection_ids", hostile_ids=len(HOSTILE_IDS) * len(ContentType), requests_refused=refused)


@pytest.fixture(params=["native", "musicbud"])
def graph_store(neo4j_settings: None, request: pytest.FixtureRequest) -> Iterator[Neo4jInteractionStore]:
    """The graph under attack, in each profile's shape."""
    store = graph_store_for(GraphLabels(f"TestInj{uuid.uuid4().hex[:10]}", get_profile(request.param)))
    store.ensure_schema()
    try:
        yield store
    finally:
        drop_prefixed_graph(graph.get_driver(), store.labels)


@pytest.fixture
def canary(neo4j_settings: None) -> Iterator[Neo4jInteractionStore]:
    """A second graph of ours beside the one under attack: if anything leaks, its count changes."""
    store = Neo4jInteractionStore(GraphLabels(f"TestCanary{uuid.uuid4().hex[:10]}"))
    store.ensure_schema()
    store.upsert_catalog(
        "movies", [CatalogItem(item_id=f"tt{n:07d}", title=f"Canary {n}", genres=()) for n in range(1, 6)]
    )
    try:
        yield store
    finally:
        drop_prefixed_graph(graph.get_driver(), store.labels)


def count_nodes(store: Neo4jInteractionStore) -> int:
    labels = store.labels.node_labels()
    records = (
        graph.get_driver()
        .execute_query(
            "UNWIND $labels AS label CALL (label) { MATCH (n) WHERE label IN labels(n) RETURN count(n) AS n } "
            "RETURN sum(n) AS total",
            {"labels": labels},
        )
        .records
    )
    return int(records[0]["total"])


def count_relationships(store: Neo4jInteractionStore) -> int:
    """Relationships between this graph's nodes (MusicBud's: person -> account and account -> item)."""
    records = (
        graph.get_driver()
        .execute_query(
            "MATCH (u)-[r]->() WHERE any(label IN labels(u) WHERE label IN $labels) RETURN count(r) AS n",
            {"labels": store.labels.node_labels()},
        )
        .records
    )
    return int(records[0]["n"])


def test_hostile_titles_and_genres_are_stored_and_returned_verbatim_by_the_neo4j_backend(
    graph_store: Neo4jInteractionStore, canary: Neo4jInteractionStore
) -> None:
    canary_nodes = count_nodes(canary)
    movies = [
        CatalogItem(item_id=f"tt{n + 1:07d}", title=text, genres=(text, "Drama"), year=1999)
        for n, text in enumerate(HOSTILE_TEXT)
    ]
    anime = [CatalogItem(item_id=str(n + 1), title=text, genres=(text,)) for n, text in enumerate(HOSTILE_TEXT)]
    graph_store.upsert_catalog("movies", movies)
    graph_store.upsert_catalog("anime", anime)
    # Written twice: MERGE updates, never duplicates.
    graph_store.upsert_catalog("movies", movies)

    assert sorted(graph_store.catalog("movies"), key=lambda i: i.item_id) == movies
    if graph_store.labels.profile.content[ContentType.ANIME].item.genres is GenreFormat.NONE:
        anime = [replace(item, genres=()) for item in anime]  # MusicBud's Anime has no genres property
    assert sorted(graph_store.catalog("anime"), key=lambda i: int(i.item_id)) == anime
    assert count_nodes(graph_store) == len(movies) + len(anime)
    assert count_nodes(canary) == canary_nodes
    record_figure(
        "cypher_injection_free_text",
        hostile_strings=len(HOSTILE_TEXT),
        items_written=len(movies) + len(anime),
        nodes_after=count_nodes(graph_store),
        canary_nodes_before=canary_nodes,
        canary_nodes_after=count_nodes(canary),
    )


def _stored_events() -> list[tuple[str, str]]:
    return list(RecommendationEvent.objects.values_list("client_event_id", "model_version"))


@pytest.mark.usefixtures("no_models")
async def test_hostile_event_fields_are_stored_verbatim_and_feedback_reaches_the_graph_unharmed(
    api: Api, graph_store: Neo4jInteractionStore, canary: Neo4jInteractionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Likes become graph interactions; route them into this test's own labels of the shared Neo4j.
    monkeypatch.setattr(outbox, "get_interaction_store", lambda: graph_store)
    await sync_to_async(graph_store.upsert_catalog)(
        "movies", [CatalogItem(item_id="tt0000042", title="Target", genres=())]
    )
    musicbud = isinstance(graph_store, AccountGraphStore)
    if isinstance(graph_store, AccountGraphStore):  # the API's user 5 is a MusicBud person (user5) here
        await sync_to_async(write_people)(graph_store, [SeedPerson(uuid.uuid4().hex, "user5", "u5@x.org", *[None] * 3)])
    canary_nodes = await sync_to_async(count_nodes)(canary)
    events = [
        {"client_event_id": text[:64], "content_type": "movies", "item_id": "tt0000042", "event": "like",
         "model_version": text[:64], "created_at": datetime.now(UTC).isoformat()}
        for text in HOSTILE_TEXT
    ]  # fmt: skip
    response = await api.post("/v1/recommendations/events/", {"events": events})
    assert response.status_code == 201, response.content
    stored = await sync_to_async(_stored_events)()
    assert sorted(stored) == sorted((text[:64], text[:64]) for text in HOSTILE_TEXT)

    history = await graph_store.auser_history("movies", 5)
    assert history.item_ids.tolist() == ["tt0000042"]
    assert history.kinds.tolist() == [int(InteractionKind.LIKED)]
    # One user node and the one item (and MusicBud's account): nothing created, merged or deleted by the text.
    assert await sync_to_async(count_nodes)(graph_store) == (3 if musicbud else 2)
    assert await sync_to_async(count_relationships)(graph_store) == (2 if musicbud else 1)
    assert await sync_to_async(count_nodes)(canary) == canary_nodes
    await graph.close_async_driver()
