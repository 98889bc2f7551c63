"""One user cannot obtain another user's recommendations or events, whatever parameter they send.

The user is always the token's subject: no endpoint reads a user id from the query string, the path or
the body, and nothing lists events back.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from analytics.models import RecommendationEvent
from tests.api.conftest import Api, make_user, obtain_tokens
from tests.conftest import asgi_client

pytestmark = pytest.mark.usefixtures("seeded", "models")

# Seeded users with different histories (API_SPEC), so their model recommendations differ.
ALICE, BOB = 5, 6
USER_PARAMS = ("user_id", "user", "uid", "for_user", "username", "pk", "id", "sub")


async def login(user_id: int) -> Api:
    await sync_to_async(make_user)(user_id)
    client = asgi_client()
    return Api(client, (await obtain_tokens(client, f"user{user_id}"))["access"])


def items(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


async def test_recommendations_follow_the_token_whatever_user_parameter_is_sent() -> None:
    alice, bob = await login(ALICE), await login(BOB)
    bobs = (await bob.get("/v1/recommendations/movies/")).json()
    alices = (await alice.get("/v1/recommendations/movies/")).json()
    assert items(alices) != items(bobs), "the seeded users must differ for this test to mean anything"
    for name in USER_PARAMS:
        for value in (str(BOB), f"user{BOB}"):
            one = await alice.get("/v1/recommendations/movies/", **{name: value})
            assert one.status_code == 200
            assert items(one.json()) == items(alices), name
            every = await alice.get("/v1/recommendations/", **{name: value})
            assert items(every.json()["movies"]) == items(alices), name


async def test_a_page_cached_for_one_user_is_never_served_to_another() -> None:
    alice, bob = await login(ALICE), await login(BOB)
    first = await bob.get("/v1/recommendations/movies/", limit=5)
    again = await bob.get("/v1/recommendations/movies/", limit=5)
    other = await alice.get("/v1/recommendations/movies/", limit=5, user_id=BOB)
    assert (first.headers["X-Cache"], again.headers["X-Cache"]) == ("miss", "hit")
    assert other.headers["X-Cache"] == "miss"
    assert items(other.json()) != items(first.json())


async def test_events_are_stored_for_the_caller_even_when_the_body_names_another_user() -> None:
    alice, bob = await login(ALICE), await login(BOB)
    event = {"client_event_id": "shared-id-1", "content_type": "movies", "item_id": "tt0000001", "event": "view"}
    assert (await bob.post("/v1/recommendations/events/", event)).status_code == 201
    forged = {**event, "user_id": BOB, "user": BOB, "username": f"user{BOB}"}
    response = await alice.post("/v1/recommendations/events/", forged)
    # A client id is scoped to its user: Alice's event is new (201), Bob's is untouched.
    assert response.status_code == 201
    assert response.json() == {"stored": 1, "duplicates": 0, "pending": 0}
    batch = {"events": [{**event, "client_event_id": "shared-id-2"}], "user_id": BOB}
    assert (await alice.post("/v1/recommendations/events/", batch)).status_code == 201
    rows = await sync_to_async(_event_rows)()
    assert rows == [(BOB, "shared-id-1"), (ALICE, "shared-id-1"), (ALICE, "shared-id-2")]


def _event_rows() -> list[tuple[int, str]]:
    return list(RecommendationEvent.objects.order_by("id").values_list("user_id", "client_event_id"))


async def test_no_route_reads_events_back() -> None:
    alice = await login(ALICE)
    response = await alice.get("/v1/recommendations/events/", user_id=BOB)
    assert response.status_code == 405
