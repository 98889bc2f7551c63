"""Token cases beyond tests/api/test_auth.py (tampered signature, foreign key, expired, refresh-as-access).

Here: an unsigned token ("alg": "none"), and valid tokens whose user was deactivated or deleted.
"""

from __future__ import annotations

import base64
import json

import pytest
from asgiref.sync import sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from tests.api.conftest import make_user
from tests.conftest import asgi_client

pytestmark = pytest.mark.usefixtures("transactional_db", "no_models")
URL = "/v1/recommendations/status/"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _get(token: str) -> object:
    return await asgi_client().get(URL, headers={"Authorization": f"Bearer {token}"})


async def test_an_unsigned_token_is_401() -> None:
    user = await sync_to_async(make_user)(21)
    claims = AccessToken.for_user(user).payload
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(dict(claims))}."
    response = await _get(unsigned)
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "token_not_valid"  # type: ignore[attr-defined]


async def test_the_token_of_a_deactivated_user_is_401() -> None:
    user = await sync_to_async(make_user)(22)
    token = str(AccessToken.for_user(user))
    user.is_active = False
    await sync_to_async(user.save)()
    assert (await _get(token)).status_code == 401  # type: ignore[attr-defined]


async def test_the_token_of_a_deleted_user_is_401() -> None:
    user = await sync_to_async(make_user)(23)
    token = str(AccessToken.for_user(user))
    await sync_to_async(user.delete)()
    assert (await _get(token)).status_code == 401  # type: ignore[attr-defined]


async def test_a_user_who_lost_staff_status_is_refused_the_staff_routes_at_once() -> None:
    from tests.api.conftest import obtain_tokens

    user = await sync_to_async(make_user)(24, staff=True)
    client = asgi_client()
    access = (await obtain_tokens(client, "user24"))["access"]
    run = await client.get("/v1/recommendations/train/models/1/", headers={"Authorization": f"Bearer {access}"})
    assert run.status_code == 404  # staff: the run does not exist
    user.is_staff = False
    await sync_to_async(user.save)()
    refused = await client.get("/v1/recommendations/train/models/1/", headers={"Authorization": f"Bearer {access}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_revoked"
    # A new token carries the new status: an ordinary user now.
    fresh = (await obtain_tokens(client, "user24"))["access"]
    denied = await client.get("/v1/recommendations/train/models/1/", headers={"Authorization": f"Bearer {fresh}"})
    assert denied.status_code == 403


async def test_refresh_is_refused_for_a_deactivated_or_deleted_user() -> None:
    from tests.api.conftest import obtain_tokens

    client = asgi_client()
    for user_id, change in ((25, "deactivate"), (26, "delete")):
        user = await sync_to_async(make_user)(user_id)
        refresh = (await obtain_tokens(client, f"user{user_id}"))["refresh"]
        if change == "deactivate":
            user.is_active = False
            await sync_to_async(user.save)()
        else:
            await sync_to_async(user.delete)()
        response = await client.post("/v1/auth/token/refresh/", json={"refresh": refresh})
        assert response.status_code == 401, (change, response.content)
        assert response.json()["error"]["code"] == "no_active_account"
