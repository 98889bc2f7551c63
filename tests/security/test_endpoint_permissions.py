"""Every route's authentication and permission, from one table checked against the URL resolver.

A new route without an entry in ACCESS fails ``test_every_route_has_an_entry_in_the_access_table``:
whoever adds an endpoint has to decide (and write down) who may call it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.api.conftest import Api
from tests.conftest import asgi_client

pytestmark = pytest.mark.usefixtures("transactional_db", "no_models")

Who = Literal["public", "user", "staff"]


@dataclass(frozen=True)
class Access:
    who: Who
    methods: frozenset[str]
    drf: bool = True  # a DRF view: any other method is 405 once authenticated


def _access(who: Who, *methods: str, drf: bool = True) -> Access:
    return Access(who, frozenset(methods), drf)


# Route (as the resolver prints it) -> who may call it, with which methods.
ACCESS: dict[str, Access] = {
    "healthz": _access("public", "GET", drf=False),
    "readyz": _access("public", "GET", drf=False),
    "v1/auth/token/": _access("public", "POST"),
    "v1/auth/token/refresh/": _access("public", "POST"),
    "v1/recommendations/": _access("user", "GET"),
    "v1/recommendations/events/": _access("user", "POST"),
    "v1/recommendations/me/": _access("user", "DELETE"),
    "v1/recommendations/buds/": _access("user", "GET"),
    "v1/recommendations/buds/visibility/": _access("user", "GET", "POST"),
    # The MusicBud app's guest mode: no token, no personal data, throttled per client address.
    "v1/recommendations/public/": _access("public", "GET"),
    "v1/recommendations/status/": _access("user", "GET"),
    "v1/recommendations/train/models/": _access("staff", "POST"),
    "v1/recommendations/train/models/<int:run_id>/": _access("staff", "GET"),
    "v1/recommendations/<str:content_type>/": _access("user", "GET"),
    "v1/recommendations/<str:content_type>/popular/": _access("user", "GET"),
    "v1/recommendations/<str:content_type>/trending/": _access("user", "GET"),
    "v1/recommendations/<str:content_type>/latest/": _access("user", "GET"),
    "v1/recommendations/<str:content_type>/<str:item_id>/similar/": _access("user", "GET"),
    # The MusicBud app's bud calls (recommendations/api/app_buds.py).
    "v1/bud/top/<str:kind>/": _access("user", "POST"),
    "v1/bud/liked/<str:kind>/": _access("user", "POST"),
    "v1/bud/played/<str:kind>/": _access("user", "POST"),
    "v1/bud/common/liked/tracks/": _access("user", "POST"),
    "v1/bud/common/top/<str:kind>/": _access("user", "POST"),
    "v1/bud/common/liked/<str:kind>/": _access("user", "POST"),
    "v1/bud/common/played/<str:kind>/": _access("user", "POST"),
    # The same calls at MusicBud's backend's paths (recommendations/api/app_map_urls.py).
    **{
        f"bud/{route}{slash}": _access("user", "POST")
        for route in (
            "top/<str:kind>",
            "liked/<str:kind>",
            "played/<str:kind>",
            "common/liked/tracks",
            "common/top/<str:kind>",
            "common/liked/<str:kind>",
            "common/played/<str:kind>",
        )
        for slash in ("", "/")
    },
    "v1/schema/": _access("public", "GET"),
    "v1/docs/": _access("public", "GET"),
}
# The admin site authenticates by session and lets staff only; these two pages are its way in.
ADMIN_PREFIX = "admin/"
ADMIN_PUBLIC = {"admin/login/", "admin/logout/"}
# Values for path parameters: valid-looking ones, so the request reaches the permission check.
PARAMS = {"content_type": "movies", "item_id": "tt0000001", "run_id": "1", "app_label": "analytics", "kind": "tracks"}
# A body that passes authentication and permission but is refused by validation: a staff POST to the
# training route must not start a real training run.
BODIES: dict[str, Any] = {
    "v1/recommendations/train/models/": {"content_types": ["not-a-type"]},
    "v1/recommendations/buds/visibility/": {"visible": True},
}
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            assert isinstance(pattern, URLPattern)
            yield prefix + str(pattern.pattern)


def routes() -> list[str]:
    return sorted(set(walk(get_resolver().url_patterns)))


def concrete(route: str) -> str:
    """A request path for a route: <converter:name> and (?P<name>...) filled in, regex anchors dropped."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PARAMS.get(m.group(1), "1"), route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: PARAMS.get(m.group(1), "1"), path)
    return "/" + path.replace("^", "").replace("$", "")


def test_every_route_has_an_entry_in_the_access_table() -> None:
    api_routes = {route for route in routes() if not route.startswith(ADMIN_PREFIX)}
    assert api_routes == set(ACCESS), "add new routes to ACCESS (and remove deleted ones)"


async def _request(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    if method in {"POST", "PUT", "PATCH"}:
        return await client.request(method, path, json=body if body is not None else {}, headers=headers)
    return await client.request(method, path, headers=headers)


@pytest.mark.parametrize("route", sorted(ACCESS))
async def test_each_route_lets_in_exactly_who_the_table_says(route: str, api: Api, staff_api: Api) -> None:
    access = ACCESS[route]
    path = concrete(route)
    client = asgi_client()
    callers = {"anonymous": {}, "user": api.headers, "staff": staff_api.headers}
    for method in sorted(access.methods):
        body = BODIES.get(route)
        anonymous = await _request(client, method, path, callers["anonymous"], body)
        user = await _request(client, method, path, callers["user"], body)
        staff = await _request(client, method, path, callers["staff"], body)
        if access.who == "public":
            assert anonymous.status_code not in {401, 403}, (method, anonymous.content)
        else:
            assert anonymous.status_code == 401, (method, anonymous.content)
            assert anonymous.json()["error"]["code"] == "not_authenticated"
        if access.who == "staff":
            assert user.status_code == 403, (method, user.content)
            assert user.json()["error"]["code"] == "permission_denied"
        else:
            assert user.status_code not in {401, 403}, (method, user.content)
        assert staff.status_code not in {401, 403, 500}, (method, staff.content)
    if access.drf:
        for method in sorted(set(ALL_METHODS) - access.methods):
            response = await _request(client, method, path, callers["staff"])
            assert response.status_code == 405, (route, method, response.status_code)
            if access.who != "public":
                assert (await _request(client, method, path, callers["anonymous"])).status_code == 401


def admin_routes() -> list[str]:
    return [route for route in routes() if route.startswith(ADMIN_PREFIX) and route not in ADMIN_PUBLIC]


def test_the_admin_has_routes_to_check() -> None:
    assert len(admin_routes()) > 20


@pytest.mark.parametrize("who", ["anonymous", "non-staff user"])
def test_every_admin_route_sends_non_staff_to_the_login_page(who: str) -> None:
    client = Client()
    if who != "anonymous":
        user = get_user_model().objects.create_user(username="not-staff", password="x-unused-password-1")
        client.force_login(user)
    for route in admin_routes():
        response = client.get(concrete(route))
        assert response.status_code == 302, (route, response.status_code)
        assert response["Location"].startswith("/admin/login/"), (route, response["Location"])


@sync_to_async
def _staff_session() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user(username="staff-admin", password="x", is_staff=True))
    return client


async def test_a_session_cookie_does_not_authenticate_the_api() -> None:
    # The API reads JWTs only: an admin's browser session cannot be ridden by a cross-site request.
    session = await _staff_session()
    assert await sync_to_async(lambda: session.get("/admin/").status_code)() == 200
    cookies = {name: morsel.value for name, morsel in session.cookies.items()}
    response = await asgi_client(cookies=cookies).get("/v1/recommendations/status/")
    assert response.status_code == 401


async def test_the_admin_keeps_csrf_protection_behind_the_router() -> None:
    # The admin's stack (not the API's) answers /admin/: a login POST without a CSRF token is refused.
    response = await asgi_client().post("/admin/login/", data={"username": "x", "password": "y"})
    assert response.status_code == 403
    form = await asgi_client().get("/admin/login/")
    assert "csrftoken" in form.cookies
