"""The outbox: feedback accepted while the graph is down reaches it later, once each, in order per user.

The graph here is the real shared Neo4j (a label prefix of its own); "down" is a real unreachable address
(nothing listens on port 1), as in tests/data/test_graph_outage.py. The stop-and-restart of a real server
under a live web server is tests/reliability/test_neo4j_outage.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from io import StringIO
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connection

from musicbud import cache, graph
from recommendations import caching, outbox
from recommendations.data import get_interaction_store
from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
from recommendations.domain import CatalogItem, ContentType, InteractionKind
from recommendations.models import PendingInteraction
from tests.api.conftest import SEEDED_USER_ID, Api

EVENTS = "/v1/recommendations/events/"
CATALOG = [CatalogItem(f"tt000000{n}", f"Movie {n}", ("Drama",), 2000 + n) for n in range(1, 5)]
UNREACHABLE = {"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_CONNECTION_TIMEOUT": 1}


@pytest.fixture
async def graph_store(settings: Any, neo4j_settings: None) -> AsyncIterator[dict[str, Any]]:
    """The events' store is a graph of its own; yields the settings of the real server."""
    settings.RECOMMENDATIONS_SOURCE = "neo4j"
    settings.NEO4J_LABEL_PREFIX = f"Test{uuid.uuid4().hex[:10]}"
    store = get_interaction_store()
    await sync_to_async(store.ensure_schema)()
    await sync_to_async(store.upsert_catalog)("movies", CATALOG)
    real = {"NEO4J_URI": settings.NEO4J_URI, "NEO4J_CONNECTION_TIMEOUT": settings.NEO4J_CONNECTION_TIMEOUT}
    try:
        yield real
    finally:
        await point_graph_at(settings, real)
        await sync_to_async(drop_prefixed_graph)(graph.get_driver(), GraphLabels(settings.NEO4J_LABEL_PREFIX))


async def point_graph_at(settings: Any, values: dict[str, Any]) -> None:
    await sync_to_async(graph.close_sync_driver)()
    await graph.close_async_driver()
    for name, value in values.items():
        setattr(settings, name, value)


def event(kind: str, item: int, **fields: Any) -> dict[str, Any]:
    return {"client_event_id": str(uuid.uuid4()), "content_type": "movies", "item_id": f"tt000000{item}",
            "event": kind} | fields  # fmt: skip


async def graph_state() -> set[tuple[str, int, float | None]]:
    arrays = await get_interaction_store().auser_history(ContentType.MOVIES, SEEDED_USER_ID)
    return {
        (item, kind, None if value != value else value)
        for item, kind, value in zip(
            arrays.item_ids.tolist(), arrays.kinds.tolist(), arrays.values.tolist(), strict=True
        )
    }


async def test_feedback_accepted_while_the_graph_is_down_reaches_it_later_once_in_order(
    api: Api, graph_store: dict[str, Any], settings: Any
) -> None:
    await point_graph_at(settings, UNREACHABLE)
    first = await api.post(
        EVENTS, {"events": [event("like", 1), event("watchlist_add", 2), event("like", 3), event("view", 4)]}
    )
    second = await api.post(EVENTS, {"events": [event("unlike", 1), event("rated", 2, value=4)]})
    third = await api.post(EVENTS, {"events": [event("like", 1)]})

    assert first.status_code == second.status_code == third.status_code == 201
    assert [r.json()["pending"] for r in (first, second, third)] == [3, 5, 6]
    head = await PendingInteraction.objects.order_by("id").afirst()
    assert head is not None
    assert head.attempts == 3  # each request tried once, and stopped at the user's first change
    assert head.last_error.startswith("graph_unavailable")

    await point_graph_at(settings, graph_store)
    out = StringIO()
    await sync_to_async(call_command)("drain_interaction_outbox", stdout=out)

    assert "applied 6" in out.getvalue()
    assert await graph_state() == {
        ("tt0000001", InteractionKind.LIKED, None),  # liked, unliked, then liked again (the third request)
        ("tt0000002", InteractionKind.WATCHLIST, None),
        ("tt0000002", InteractionKind.RATED, 4.0),
        ("tt0000003", InteractionKind.LIKED, None),
    }
    assert not await PendingInteraction.objects.aexists()
    again = StringIO()
    await sync_to_async(call_command)("drain_interaction_outbox", stdout=again)
    assert "applied 0" in again.getvalue()
    assert "pending 0" in again.getvalue()


async def test_a_change_applied_again_after_a_crash_leaves_the_same_state(
    api: Api, graph_store: dict[str, Any]
) -> None:
    # A drainer that wrote to the graph and died before deleting the row: the row is applied again, still
    # before the later ones of the user, and the graph ends as if it had been applied once.
    await api.post(EVENTS, {"events": [event("like", 1), event("rated", 2, value=2)]})
    applied = await graph_state()
    await sync_to_async(PendingInteraction.objects.bulk_create)(
        [
            PendingInteraction(user_id=SEEDED_USER_ID, content_type="movies", item_id="tt0000001", kind=1, timestamp=1),
            PendingInteraction(
                user_id=SEEDED_USER_ID, content_type="movies", item_id="tt0000001", kind=1, remove=True, timestamp=2
            ),
        ]
    )
    result = await sync_to_async(outbox.drain_user)(SEEDED_USER_ID)

    assert (result.applied, result.pending, result.stopped) == (2, 0, "done")
    assert await graph_state() == {item for item in applied if item[0] != "tt0000001"}


async def test_the_workers_periodic_pass_applies_what_waits_and_drops_the_users_cached_pages(
    api: Api, graph_store: dict[str, Any], settings: Any
) -> None:
    await point_graph_at(settings, UNREACHABLE)
    assert (await api.post(EVENTS, event("like", 4))).json()["pending"] == 1
    await point_graph_at(settings, graph_store)
    generation = caching.user_generation_key(SEEDED_USER_ID)
    (before,), _ = await cache.read([generation])

    summary = await sync_to_async(outbox.drain_pass)()

    assert (summary.applied, summary.pending, summary.changed_users) == (1, 0, [SEEDED_USER_ID])
    assert not await PendingInteraction.objects.aexists()
    assert ("tt0000004", InteractionKind.LIKED, None) in await graph_state()
    (after,), _ = await cache.read([generation])
    assert after is not None
    assert after != before


@pytest.mark.usefixtures("postgres_settings")
async def test_a_user_being_drained_elsewhere_is_skipped_not_waited_for(api: Api, graph_store: dict[str, Any]) -> None:
    params = connection.settings_dict
    other = await psycopg.AsyncConnection.connect(
        host=params["HOST"], port=params["PORT"], user=params["USER"], password=params["PASSWORD"],
        dbname=params["NAME"], autocommit=False,
    )  # fmt: skip
    try:
        await other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [outbox.DRAIN_LOCK, SEEDED_USER_ID])
        response = await asyncio.wait_for(api.post(EVENTS, event("like", 2)), timeout=10)
        assert response.status_code == 201
        assert response.json()["pending"] == 1
    finally:
        await other.rollback()
        await other.close()
    assert (await sync_to_async(outbox.drain_user)(SEEDED_USER_ID)).applied == 1
    assert ("tt0000002", InteractionKind.LIKED, None) in await graph_state()


@pytest.mark.usefixtures("seeded")
async def test_an_events_request_only_queues_and_the_worker_applies_the_change_and_drops_the_pages(
    api: Api, start_worker: Any
) -> None:
    store = get_interaction_store()
    seen = set((await store.auser_history(ContentType.MOVIES, SEEDED_USER_ID)).item_ids.tolist())
    catalog = await sync_to_async(store.catalog)(ContentType.MOVIES)
    new_item = next(item.item_id for item in catalog if item.item_id not in seen)
    generation = caching.user_generation_key(SEEDED_USER_ID)
    (before,), _ = await cache.read([generation])

    like = {"client_event_id": str(uuid.uuid4()), "content_type": "movies", "item_id": new_item, "event": "like"}
    response = await api.post(EVENTS, like)

    # No worker yet: the request stored the event and queued its change, and applied nothing.
    assert response.status_code == 201
    assert response.json()["pending"] == 1
    assert await PendingInteraction.objects.filter(user_id=SEEDED_USER_ID).acount() == 1
    assert new_item not in (await store.auser_history(ContentType.MOVIES, SEEDED_USER_ID)).item_ids.tolist()

    await sync_to_async(start_worker)()
    deadline = asyncio.get_running_loop().time() + 30
    while await PendingInteraction.objects.aexists():
        assert asyncio.get_running_loop().time() < deadline, "the worker did not drain the outbox within 30 s"
        await asyncio.sleep(0.2)
    history = await store.auser_history(ContentType.MOVIES, SEEDED_USER_ID)
    assert (new_item, InteractionKind.LIKED) in set(zip(history.item_ids.tolist(), history.kinds.tolist(), strict=True))
    (after,), _ = await cache.read([generation])
    assert after is not None
    assert after != before


@pytest.mark.usefixtures("postgres_settings")
def test_the_admins_drain_action_queues_a_drain_for_the_worker_and_applies_nothing_itself(
    admin_client: Any, transactional_db: None, settings: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    from tests.conftest import DATABASE_TASKS

    settings.TASKS = {**settings.TASKS, "default": {**settings.TASKS["default"], "BACKEND": DATABASE_TASKS}}
    PendingInteraction.objects.create(
        user_id=SEEDED_USER_ID, content_type="movies", item_id="tt0000001", kind=1, timestamp=1
    )
    pending = list(PendingInteraction.objects.values_list("id", flat=True))

    response = admin_client.post(
        "/admin/recommendations/pendinginteraction/",
        {"action": "drain_outbox", "_selected_action": pending},
        follow=True,
    )

    (queued,) = DBTaskResult.objects.all()
    assert (queued.task_path, queued.status) == ("recommendations.tasks.drain_all", "READY")
    assert f"queued for the worker (task {queued.id})" in response.content.decode()
    assert list(PendingInteraction.objects.values_list("id", flat=True)) == pending


@pytest.mark.usefixtures("seeded", "models")
async def test_with_a_cache_of_its_own_the_web_process_caches_no_page_until_the_worker_applied_the_like(
    api: Api, start_worker: Any, settings: Any
) -> None:
    # A cache of this process only (EMBEDDED_CACHE=memory): the worker's invalidation cannot reach it.
    settings.REDIS_URL = None
    settings.EMBEDDED_CACHE = "memory"
    liked = (await api.get("/v1/recommendations/anime/", limit=5)).json()["items"][0]["item_id"]
    assert (await api.get("/v1/recommendations/anime/", limit=5)).headers["X-Cache"] == "hit"

    like = {"client_event_id": str(uuid.uuid4()), "content_type": "anime", "item_id": liked, "event": "like"}
    assert (await api.post(EVENTS, like)).json()["pending"] == 1
    # Not applied yet (no worker): computed each time, never cached with the like missing.
    for _ in range(2):
        waiting = await api.get("/v1/recommendations/anime/", limit=5)
        assert waiting.headers["X-Cache"] == "miss"

    await sync_to_async(start_worker)()
    deadline = asyncio.get_running_loop().time() + 30
    while await PendingInteraction.objects.aexists():
        assert asyncio.get_running_loop().time() < deadline, "the worker did not drain the outbox within 30 s"
        await asyncio.sleep(0.2)
    after = await api.get("/v1/recommendations/anime/", limit=5)
    assert after.headers["X-Cache"] == "miss"
    assert liked not in [item["item_id"] for item in after.json()["items"]]
    assert (await api.get("/v1/recommendations/anime/", limit=5)).headers["X-Cache"] == "hit"
