"""JWT authentication and permissions through the real routes."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from tests.api.conftest import Api, make_user, obtain_tokens
from tests.conftest import asgi_client

pytestmark = pytest.mark.usefixtures("transactional_db", "no_models")


async def test_a_token_pair_is_issued_for_valid_credentials_and_refreshes() -> None:
    await sync_to_async(make_user)(11)
    client = asgi_client()
    tokens = await obtain_tokens(client, "user11")
    assert set(tokens) == {"access", "refresh"}
    response = await client.post("/v1/auth/token/refresh/", json={"refresh": tokens["refresh"]})
    assert response.status_code == 200
    assert response.json()["access"]


async def test_wrong_credentials_are_401_with_a_stable_code() -> None:
    await sync_to_async(make_user)(12)
    response = await asgi_client().post("/v1/auth/token/", json={"username": "user12", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "no_active_account"


async def test_recommendations_without_a_token_are_401() -> None:
    response = await asgi_client().get("/v1/recommendations/movies/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_tampered_token_is_401() -> None:
    await sync_to_async(make_user)(13)
    access = (await obtain_tokens(asgi_client(), "user13"))["access"]
    header, payload, signature = access.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"
    response = await asgi_client().get("/v1/recommendations/movies/", headers=_bearer(tampered))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


async def test_a_token_signed_with_another_key_is_401() -> None:
    user = await sync_to_async(make_user)(14)
    forged = jwt.encode(
        {"token_type": "access", "user_id": str(user.id), "exp": 4102444800, "jti": "x"},
        "another-signing-key-of-32-bytes-or-more",
    )
    response = await asgi_client().get("/v1/recommendations/movies/", headers=_bearer(forged))
    assert response.status_code == 401


async def test_an_expired_token_is_401() -> None:
    user = await sync_to_async(make_user)(15)
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = await asgi_client().get("/v1/recommendations/movies/", headers=_bearer(str(token)))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


async def test_a_refresh_token_cannot_be_used_as_an_access_token() -> None:
    await sync_to_async(make_user)(16)
    refresh = (await obtain_tokens(asgi_client(), "user16"))["refresh"]
    response = await asgi_client().get("/v1/recommendations/movies/", headers=_bearer(refresh))
    assert response.status_code == 401


async def test_training_is_refused_to_a_non_staff_user(api: Api) -> None:
    response = await api.post("/v1/recommendations/train/models/", {"content_types": ["movies"]})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


async def test_schema_and_docs_need_no_token() -> None:
    client = asgi_client()
    schema = await client.get("/v1/schema/", headers={"Accept": "application/json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    # One path per content type: what a request may carry depends on it (recommendations/api/schema.py).
    assert {"/v1/recommendations/movies/", "/v1/recommendations/manga/", "/v1/recommendations/anime/"} <= set(paths)
    assert not [path for path in paths if "{content_type}" in path]
    docs = await client.get("/v1/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    # Swagger UI is served from our own static files, not from a CDN.
    assert b"cdn" not in docs.content.lower()


def test_the_signing_key_is_the_secret_key() -> None:
    assert settings.SIMPLE_JWT["SIGNING_KEY"] == settings.SECRET_KEY
