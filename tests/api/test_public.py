"""GET /v1/recommendations/public/ and the other calls the MusicBud app makes, as the app makes them."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from recommendations.domain import ContentType
from tests.api.conftest import Api, make_user, obtain_tokens
from tests.conftest import asgi_client

pytestmark = pytest.mark.usefixtures("seeded")


def assert_listed(items: list[dict[str, Any]]) -> None:
    assert items
    assert [item["rank"] for item in items] == list(range(1, len(items) + 1))
    assert [item["score"] for item in items] == sorted((item["score"] for item in items), reverse=True)
    assert all(set(item) == {"item_id", "title", "genres", "image_url", "score", "rank"} for item in items)
    assert all(item["title"] for item in items)


@pytest.mark.usefixtures("models")
async def test_a_guest_gets_popular_and_trending_lists_of_every_type_in_the_apps_envelope() -> None:
    response = await asgi_client().get("/v1/recommendations/public/", params={"type": "all"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert body["is_personalized"] is False
    assert body["message"]
    assert body["errors"] == {}
    assert set(body["data"]) == {"movies", "manga", "anime", "trending"}
    for ct in ContentType:
        assert_listed(body["data"][ct.value])
        assert len(body["data"][ct.value]) == 20
        assert set(body["data"]["trending"]) == {ct.value for ct in ContentType}
    assert response.headers["X-Cache"] == "miss"
    again = await asgi_client().get("/v1/recommendations/public/")  # type=all is the default
    assert again.headers["X-Cache"] == "hit"
    assert again.json() == body


@pytest.mark.usefixtures("no_models")
async def test_without_a_model_the_lists_come_from_the_data_service() -> None:
    response = await asgi_client().get("/v1/recommendations/public/", params={"type": "manga", "limit": 5})
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert set(data) == {"manga", "trending"}
    assert_listed(data["manga"])
    assert len(data["manga"]) == 5
    assert_listed(data["trending"]["manga"])


@pytest.mark.usefixtures("models")
@pytest.mark.parametrize(("query", "field"), [({"type": "music"}, "type"), ({"limit": "0"}, "limit")])
async def test_bad_input_is_400_invalid_input(query: dict[str, str], field: str) -> None:
    response = await asgi_client().get("/v1/recommendations/public/", params=query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert field in response.json()["error"]["details"]


@pytest.mark.usefixtures("models")
async def test_a_token_is_not_read_and_the_lists_hold_nothing_about_any_user(api: Api) -> None:
    user = await sync_to_async(get_user_model().objects.get)(pk=5)
    as_guest = await asgi_client().get("/v1/recommendations/public/", params={"type": "movies"})
    with_token = await api.get("/v1/recommendations/public/", type="movies")
    assert with_token.status_code == 200
    assert with_token.json() == as_guest.json()
    text = as_guest.text
    assert user.username not in text
    assert '"user' not in text


@pytest.mark.usefixtures("models")
async def test_guests_are_throttled_per_client_address_and_a_forged_forwarded_for_does_not_help(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "address": "3/minute"},
    }
    client = asgi_client()
    codes = [
        (await client.get("/v1/recommendations/public/", headers={"X-Forwarded-For": f"10.0.0.{n}"})).status_code
        for n in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    refused = await client.get("/v1/recommendations/public/")
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused.headers["Retry-After"]) >= 1
    # Behind one proxy, the address the proxy saw is the client's: another client has its own budget.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    other = await client.get("/v1/recommendations/public/", headers={"X-Forwarded-For": "10.9.9.9"})
    assert other.status_code == 200


@pytest.mark.usefixtures("models")
async def test_the_apps_authenticated_calls_work_with_no_query_parameters_and_its_login_reads_access() -> None:
    await sync_to_async(make_user)(21)
    client = asgi_client()
    tokens = await obtain_tokens(client, "user21")
    assert set(tokens) == {"access", "refresh"}  # the app reads `access` (or `access_token`)
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    every_type = await client.get("/v1/recommendations/", headers=headers)
    assert every_type.status_code == 200, every_type.content
    assert set(every_type.json()) == {"movies", "manga", "anime", "errors"}
    for ct in ContentType:
        one = await client.get(f"/v1/recommendations/{ct.value}/", headers=headers)
        assert one.status_code == 200, one.content
        assert len(one.json()["items"]) == 10  # the default page
