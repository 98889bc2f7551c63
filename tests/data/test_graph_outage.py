"""An unreachable or misconfigured Neo4j is a fast, typed GraphUnavailable, never a hang."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
from django.test import override_settings

from musicbud import graph
from musicbud.errors import GraphUnavailable
from recommendations.data.neo4j_schema import GraphLabels
from recommendations.data.neo4j_store import Neo4jInteractionStore

# Nothing listens on port 1: the connection is refused at once, as when the server is down.
UNREACHABLE = "bolt://127.0.0.1:1"
# The driver retries a failed transaction for NEO4J_CONNECTION_TIMEOUT seconds (then backs off once more:
# about 7 s with the default of 5 s). One second here keeps the suite fast; the bound is what is tested.
OUTAGE = {"NEO4J_URI": UNREACHABLE, "NEO4J_PASSWORD": "x" * 8, "NEO4J_CONNECTION_TIMEOUT": 1}
FAST_ENOUGH_S = 5.0


@pytest.fixture
def unreachable_graph() -> Iterator[Neo4jInteractionStore]:
    graph.close_sync_driver()
    with override_settings(**OUTAGE):
        yield Neo4jInteractionStore(GraphLabels("TestOutage"))
        graph.close_sync_driver()


@pytest.fixture
async def unreachable_async_graph() -> AsyncIterator[Neo4jInteractionStore]:
    with override_settings(**OUTAGE):
        yield Neo4jInteractionStore(GraphLabels("TestOutage"))
        await graph.close_async_driver()


def test_reads_and_writes_raise_graph_unavailable_quickly(unreachable_graph: Neo4jInteractionStore) -> None:
    for call in (
        lambda: unreachable_graph.all_interactions("movies"),
        lambda: unreachable_graph.popular_items("anime"),
        lambda: unreachable_graph.record_interaction(user_id=1, content_type="movies", item_id="tt0000001", kind=1),
    ):
        started = time.monotonic()
        with pytest.raises(GraphUnavailable) as caught:
            call()
        assert time.monotonic() - started < FAST_ENOUGH_S
        assert caught.value.code == "graph_unavailable"
        assert caught.value.status_code == 503


def test_right_after_a_failure_calls_fail_at_once_then_the_graph_is_tried_again(
    unreachable_graph: Neo4jInteractionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graph, "FAIL_FAST_S", 2.0)
    started = time.monotonic()
    with pytest.raises(GraphUnavailable):
        unreachable_graph.popular_items("anime")
    tried = time.monotonic() - started  # the driver's retries: about NEO4J_CONNECTION_TIMEOUT (1 s)
    started = time.monotonic()
    with pytest.raises(GraphUnavailable, match="a moment ago"):
        unreachable_graph.popular_items("anime")
    assert time.monotonic() - started < 0.1 < tried
    time.sleep(2.0)
    started = time.monotonic()
    with pytest.raises(GraphUnavailable, match="cannot be reached"):
        unreachable_graph.popular_items("anime")
    assert time.monotonic() - started > 0.1  # tried the server again


async def test_async_reads_raise_graph_unavailable_quickly(unreachable_async_graph: Neo4jInteractionStore) -> None:
    started = time.monotonic()
    with pytest.raises(GraphUnavailable):
        await unreachable_async_graph.auser_history("manga", 1)
    assert time.monotonic() - started < FAST_ENOUGH_S


@pytest.mark.usefixtures("neo4j_settings")
def test_wrong_credentials_raise_graph_unavailable() -> None:
    graph.close_sync_driver()
    try:
        with override_settings(NEO4J_PASSWORD="not-the-password"):
            with pytest.raises(GraphUnavailable):
                Neo4jInteractionStore(GraphLabels("TestOutage")).catalog("movies")
            graph.close_sync_driver()
    finally:
        graph.close_sync_driver()


def test_a_missing_neo4j_uri_raises_graph_unavailable() -> None:
    graph.close_sync_driver()
    with override_settings(NEO4J_URI=None), pytest.raises(GraphUnavailable):
        Neo4jInteractionStore().catalog("movies")


@pytest.mark.django_db(transaction=True)
async def test_musicbuds_graph_unreachable_is_graph_unavailable_quickly_for_reads_and_writes() -> None:
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model

    from recommendations.data.graph_profiles import MUSICBUD
    from recommendations.data.neo4j_accounts import AccountGraphStore

    await sync_to_async(get_user_model().objects.create_user)(id=1, username="someone", password="x-unused-1")
    await sync_to_async(graph.close_sync_driver)()
    with override_settings(**OUTAGE):
        store = AccountGraphStore(GraphLabels("TestOutage", MUSICBUD))
        calls = [
            lambda: store.all_interactions("movies"),
            lambda: store.popular_items("anime"),
            lambda: store.record_interaction(user_id=1, content_type="movies", item_id="tt0000001", kind=1),
            lambda: store.user_history("manga", 1),
        ]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(GraphUnavailable):
                await sync_to_async(call)()
            assert time.monotonic() - started < FAST_ENOUGH_S
        started = time.monotonic()
        with pytest.raises(GraphUnavailable):
            await store.auser_history("movies", 1)
        assert time.monotonic() - started < FAST_ENOUGH_S
        await sync_to_async(graph.close_sync_driver)()
