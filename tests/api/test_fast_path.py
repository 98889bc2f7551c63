"""The ASGI fast path and Django answer GET /v1/recommendations/<type>/ alike, byte for byte.

Each request is sent through the whole application (the fast path in front) and straight to the API's
Django handler (the fast path's fallback), and the two answers are compared: status, headers, body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.signals import request_started

from musicbud import asgi
from tests.api.conftest import SEEDED_USER_ID, Api
from tests.conftest import clear_shared_cache

pytestmark = pytest.mark.usefixtures("seeded", "models")
PAGE = "/v1/recommendations/movies/"


def django_only(base_url: str = "http://testserver") -> httpx.AsyncClient:
    """A client of the API's Django handler alone: what answers whenever the fast path hands over."""
    django = asgi.api_application.django  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=django), base_url=base_url)


@pytest.fixture
def django_requests() -> Iterator[list[str]]:
    """Paths of the requests Django's request cycle handled (its request_started signal)."""
    seen: list[str] = []

    def receiver(sender: Any, scope: Any = None, environ: Any = None, **kwargs: Any) -> None:
        seen.append(scope["path"] if scope else "?")

    request_started.connect(receiver)
    yield seen
    request_started.disconnect(receiver)


def comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, response.headers.multi_items(), response.content


async def both(
    api: Api, path: str, headers: dict[str, str] | None = None, base_url: str = "http://testserver", **params: Any
) -> tuple[Any, Any]:
    """The same request through Django alone (first) and through the whole application, each on a fresh cache."""
    sent = {**api.headers, **(headers or {})}
    clear_shared_cache()
    through_django = await django_only(base_url).get(path, params=params, headers=sent)
    clear_shared_cache()
    app = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi.application), base_url=base_url)
    through_app = await app.get(path, params=params, headers=sent)
    return comparable(through_django), comparable(through_app)


async def test_a_fresh_page_is_the_same_bytes_and_headers_from_both(api: Api, django_requests: list[str]) -> None:
    django, fast = await both(api, PAGE, limit=7, offset=3)
    assert django == fast
    assert ("x-cache", "miss") in fast[1]
    # The second request of the pair never entered Django's request cycle.
    assert django_requests == [PAGE]


async def test_a_cached_page_is_served_by_the_fast_path_as_django_would(api: Api, django_requests: list[str]) -> None:
    first = await django_only().get(PAGE, params={"limit": 5}, headers=api.headers)
    again = await api.get(PAGE, limit=5)
    assert first.headers["X-Cache"] == "miss"
    assert again.headers["X-Cache"] == "hit"
    assert again.content == first.content
    assert again.headers.multi_items() == [
        (name, "hit" if name == "x-cache" else value) for name, value in first.headers.multi_items()
    ]
    assert django_requests == [PAGE]


async def test_over_https_the_headers_agree_too(api: Api) -> None:
    # (With DEBUG=false the middleware adds HSTS over https: tests/reliability/test_fast_path_live.py.)
    django, fast = await both(api, PAGE, base_url="https://testserver")
    assert django == fast


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Authorization": "Bearer not-a-token"}, {}),
        ({"Authorization": "Token abc"}, {}),
        ({}, {"limit": "0"}),
        ({}, {"limit": "abc"}),
        ({}, {"offset": "-1"}),
        ({}, {"limit": "1000"}),
        ({"Host": "evil.example"}, {}),
    ],
)
async def test_requests_django_refuses_are_refused_the_same_way(
    api: Api, headers: dict[str, str], params: dict[str, str], django_requests: list[str]
) -> None:
    django, fast = await both(api, PAGE, headers=headers, **params)
    assert django == fast
    assert django[0] in {400, 401}
    # Handed to Django: both requests went through its request cycle.
    assert len(django_requests) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"genre": "Drama"},
        {"genre": ["Drama", "Comedy"], "limit": "5"},
        {"year_min": "1990", "year_max": "2000"},
        {"exclude": "tt800000001,tt800000002"},
        {"diversity": "0.5"},
        {"diversity": "0"},
        {"genre": "Polka"},
        {"exclude": "not-an-id"},
        {"utm_source": "newsletter"},
    ],
)
async def test_a_filter_or_any_other_parameter_is_answered_by_django_and_alike(
    api: Api, params: dict[str, Any], django_requests: list[str]
) -> None:
    django, fast = await both(api, PAGE, **params)
    assert django == fast
    assert django[0] in {200, 400}
    # Handed to Django: both requests went through its request cycle.
    assert len(django_requests) == 2


async def test_a_cached_plain_page_is_never_the_answer_to_a_filtered_request(api: Api) -> None:
    plain = await api.get(PAGE, limit=10)
    again = await api.get(PAGE, limit=10)
    filtered = await api.get(PAGE, limit=10, diversity=0.9)
    assert again.headers["X-Cache"] == "hit"
    assert filtered.headers["X-Cache"] == "miss"
    assert filtered.json()["diversity"] == 0.9
    assert filtered.content != plain.content


async def test_an_unknown_type_and_other_methods_go_to_django(api: Api) -> None:
    django, fast = await both(api, "/v1/recommendations/books/")
    assert django == fast
    assert django[0] == 404
    response = await api.client.post(PAGE, headers=api.headers)
    assert response.status_code == 405


async def test_a_throttled_caller_gets_djangos_429(api: Api, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "2/minute"}}
    statuses = [(await api.get(PAGE)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_a_deactivated_users_token_is_refused_at_once_on_a_cached_page(api: Api) -> None:
    from django.contrib.auth import get_user_model

    assert (await api.get(PAGE)).status_code == 200
    assert (await api.get(PAGE)).headers["X-Cache"] == "hit"
    user = await get_user_model().objects.aget(pk=SEEDED_USER_ID)
    user.is_active = False
    await sync_to_async(user.save)()
    # The same, still unexpired token: refused by the deny list, not by its expiry.
    refused = await api.get(PAGE)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_revoked"


@pytest.fixture
async def thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every hop off the event loop (asyncio.to_thread and asgiref's sync_to_async both go through here)."""
    loop = asyncio.get_running_loop()
    hops: list[object] = []
    original = loop.run_in_executor

    def counting(executor: Any, func: Any, *args: Any) -> Any:
        hops.append(func)
        return original(executor, func, *args)

    monkeypatch.setattr(loop, "run_in_executor", counting)
    return hops


async def test_a_cached_page_costs_no_thread_hop(api: Api, thread_hops: list[object]) -> None:
    assert (await api.get(PAGE)).headers["X-Cache"] == "miss"
    thread_hops.clear()
    assert (await api.get(PAGE)).headers["X-Cache"] == "hit"
    assert thread_hops == []


async def test_a_drf_view_costs_only_djangos_two_signal_hops(api: Api, thread_hops: list[object]) -> None:
    # request_started's receivers, and response.close() (request_finished): Django's own, per request.
    assert (await api.get("/v1/recommendations/status/")).status_code == 200
    assert len(thread_hops) == 2
