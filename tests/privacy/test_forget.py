"""Forgetting a user: DELETE /v1/recommendations/me/ and manage.py forget_user, against the real services."""

from __future__ import annotations

import logging
import uuid
from io import StringIO
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command

from analytics.models import RecommendationEvent
from musicbud import graph
from privacy.services import reference
from recommendations.data import get_interaction_store
from recommendations.data.loading import write_dataset
from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from recommendations.models import BudOptOut, ForgottenUser, PendingInteraction
from tests.api.conftest import API_SPEC, SEEDED_USER_ID, Api, make_user
from tests.api.test_buds import login_as_existing

pytestmark = pytest.mark.usefixtures("seeded", "models", "accounts")
ME = "/v1/recommendations/me/"
EVENTS = "/v1/recommendations/events/"
BUDS = "/v1/recommendations/buds/"


def event(kind: str, item_id: str, content_type: str = "movies") -> dict[str, Any]:
    return {"client_event_id": str(uuid.uuid4()), "content_type": content_type, "item_id": item_id, "event": kind}


async def interactions_of(user_id: int) -> int:
    store = get_interaction_store()
    return sum([len(await store.auser_history(ct, user_id)) for ct in ContentType])


async def test_forgetting_erases_the_users_data_and_nobody_elses(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    other = SEEDED_USER_ID + 1
    await api.post(EVENTS, {"events": [event("view", "tt800000001"), event("like", "tt800000002")]})
    await sync_to_async(RecommendationEvent.objects.create)(
        user_id=other, content_type="movies", item_id="tt800000001", event="view", client_event_id="theirs"
    )
    await api.post("/v1/recommendations/buds/visibility/", {"visible": False})
    page = await api.get("/v1/recommendations/movies/", limit=5)
    assert page.json()["source"] == "model"
    mine = await interactions_of(SEEDED_USER_ID)
    theirs = await interactions_of(other)
    assert mine > 0

    with caplog.at_level(logging.INFO, logger="privacy.services"):
        response = await api.delete(ME)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "interactions": mine,
        "events": 2,
        "pending_changes": 0,
        "cache": "invalidated",
        "pending_invalidations": 0,
    }
    assert await interactions_of(SEEDED_USER_ID) == 0
    assert await interactions_of(other) == theirs
    assert not await RecommendationEvent.objects.filter(user_id=SEEDED_USER_ID).aexists()
    assert await RecommendationEvent.objects.filter(user_id=other).acount() == 1
    assert not await BudOptOut.objects.filter(user_id=SEEDED_USER_ID).aexists()
    assert await ForgottenUser.objects.filter(user_id=SEEDED_USER_ID).aexists()
    # The cached page is gone at once, and what comes instead is not personal.
    after = await api.get("/v1/recommendations/movies/", limit=5)
    assert after.headers["X-Cache"] == "miss"
    assert after.json()["source"] == "popularity"
    assert (await api.get(BUDS)).json()["reason"] == "no_history"
    # Logged with a keyed hash of the id, never the id.
    (line,) = [r.getMessage() for r in caplog.records if r.name == "privacy.services"]
    assert reference(SEEDED_USER_ID) in line
    assert f"user {SEEDED_USER_ID}" not in line


async def test_forgetting_twice_is_fine_and_erases_nothing_more(api: Api) -> None:
    assert (await api.delete(ME)).status_code == 200
    again = await api.delete(ME)
    assert again.status_code == 200
    assert again.json() == {
        "interactions": 0,
        "events": 0,
        "pending_changes": 0,
        "cache": "invalidated",
        "pending_invalidations": 0,
    }


async def test_a_forgotten_user_is_nobodys_bud_though_the_served_model_still_has_their_row(api: Api) -> None:
    top = (await api.get(BUDS, type="movies", limit=3)).json()["buds"][0]["user_id"]
    forgotten = await login_as_existing(top)
    assert (await forgotten.delete(ME)).status_code == 200

    after = (await api.get(BUDS, type="movies", limit=3)).json()["buds"]
    assert top not in [bud["user_id"] for bud in after]
    # Their own row in the model is not used for them either.
    assert (await forgotten.get(BUDS)).json()["reason"] == "no_history"


async def test_queued_changes_of_the_user_are_dropped_not_applied_later(api: Api) -> None:
    await sync_to_async(PendingInteraction.objects.create)(
        user_id=SEEDED_USER_ID, content_type="movies", item_id="tt800000003", kind=1, timestamp=1
    )
    response = await api.delete(ME)
    assert response.json()["pending_changes"] == 1
    assert not await PendingInteraction.objects.aexists()


async def test_staff_forget_a_user_with_the_command(api: Api) -> None:
    other = SEEDED_USER_ID + 2
    assert await interactions_of(other) > 0
    out = StringIO()
    await sync_to_async(call_command)("forget_user", str(other), stdout=out)
    assert f"log reference {reference(other)}" in out.getvalue()
    assert await interactions_of(other) == 0
    assert await interactions_of(SEEDED_USER_ID) > 0


async def test_staff_forget_a_user_by_username_with_the_command_as_the_admin_lookup_takes_it(api: Api) -> None:
    other = SEEDED_USER_ID + 3
    await sync_to_async(make_user)(other)
    assert await interactions_of(other) > 0
    out = StringIO()
    await sync_to_async(call_command)("forget_user", f"user{other}", stdout=out)
    assert f"log reference {reference(other)}" in out.getvalue()
    assert await interactions_of(other) == 0
    assert await interactions_of(SEEDED_USER_ID) > 0


async def test_forget_user_names_a_username_nobody_has_and_forgets_nothing(api: Api) -> None:
    with pytest.raises(CommandError, match="user_not_found"):
        await sync_to_async(call_command)("forget_user", "nobody-has-this-name")
    assert await interactions_of(SEEDED_USER_ID) > 0


@pytest.fixture
def graph_source(settings: Any, neo4j_settings: None) -> Any:
    settings.RECOMMENDATIONS_SOURCE = "neo4j"
    settings.NEO4J_LABEL_PREFIX = f"Test{uuid.uuid4().hex[:10]}"
    reachable = settings.NEO4J_URI
    store = get_interaction_store()
    store.ensure_schema()
    write_dataset(store, generate_content(API_SPEC, ContentType.MOVIES), progress=False)
    yield
    graph.close_sync_driver()
    settings.NEO4J_URI = reachable  # the test may have pointed it at a dead address
    drop_prefixed_graph(graph.get_driver(), GraphLabels(settings.NEO4J_LABEL_PREFIX))


@pytest.mark.usefixtures("graph_source")
async def test_in_the_graph_and_with_the_graph_down_afterwards_the_model_copy_is_never_used(
    api: Api, settings: Any
) -> None:
    other = await login_as_existing(SEEDED_USER_ID + 1)
    response = await api.delete(ME)
    assert response.json()["interactions"] > 0
    assert len(await get_interaction_store().auser_history(ContentType.MOVIES, SEEDED_USER_ID)) == 0

    # The graph goes away: pages come from the model's copy of each history... except the forgotten one's.
    await sync_to_async(graph.close_sync_driver)()
    await graph.close_async_driver()
    settings.NEO4J_URI, settings.NEO4J_CONNECTION_TIMEOUT = "bolt://127.0.0.1:1", 1
    theirs = (await other.get("/v1/recommendations/movies/", limit=5)).json()
    mine = (await api.get("/v1/recommendations/movies/", limit=5)).json()
    assert theirs["source"] == "model"
    assert mine["source"] == "popularity"
    assert all(item["reason"]["code"] == "popular" for item in mine["items"])
    await graph.close_async_driver()


async def test_the_next_model_has_no_row_of_a_forgotten_user_and_no_mask_is_needed_there(
    api: Api, settings: Any, tmp_path: Any
) -> None:
    from recommendations.engine import ModelStore
    from recommendations.forgetting import masked_in
    from recommendations.training import train_content_type

    old = ModelStore(settings.MODEL_DIR).current("movies")
    assert old.user_index(SEEDED_USER_ID) is not None
    await api.delete(ME)
    assert await sync_to_async(masked_in)(old, [SEEDED_USER_ID]) == {SEEDED_USER_ID}

    settings.MODEL_DIR = tmp_path / "next"
    await sync_to_async(train_content_type)(ContentType.MOVIES, triggered_by="test", force=True)
    new = ModelStore(settings.MODEL_DIR).current("movies")
    assert new.user_index(SEEDED_USER_ID) is None
    # Its data was read after the forgetting: the mask does not apply to it.
    assert await sync_to_async(masked_in)(new, [SEEDED_USER_ID]) == set()
