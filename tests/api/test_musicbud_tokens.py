"""MusicBud's access tokens are callers here, on the fast path and on Django's stack alike.

The tokens are minted as MusicBud's backend signs them (tests/api/musicbud_backend.py); its users table is a
real second database (a SQLite file here; a PostgreSQL database on the test server in the last test).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.signals import request_started

from musicbud import musicbud_tokens
from tests.api.conftest import SEEDED_USER_ID, Api, make_user, obtain_tokens
from tests.api.musicbud_backend import SIGNING_KEY, TABLE, Backend, mint
from tests.conftest import asgi_client, clear_shared_cache

PAGE = "/v1/recommendations/movies/"
STATUS = "/v1/recommendations/status/"  # a Django route behind IsAuthenticated


@pytest.fixture
def django_requests() -> Iterator[list[str]]:
    seen: list[str] = []

    def receiver(sender: Any, scope: Any = None, **kwargs: Any) -> None:
        seen.append(scope["path"] if scope else "?")

    request_started.connect(receiver)
    yield seen
    request_started.disconnect(receiver)


async def _get(path: str, headers: dict[str, str]) -> Any:
    return await asgi_client().get(path, headers=headers)


@pytest.mark.usefixtures("seeded", "models")
async def test_a_musicbud_token_gets_the_page_of_the_local_account_with_that_username(
    musicbud_backend: Backend, django_requests: list[str]
) -> None:
    await sync_to_async(make_user)(SEEDED_USER_ID)
    musicbud_backend.add_user(4001, f"user{SEEDED_USER_ID}")
    client = asgi_client()
    ours = Api(client, (await obtain_tokens(client, f"user{SEEDED_USER_ID}"))["access"])
    expected = (await ours.get(PAGE, limit=5)).json()
    django_requests.clear()
    clear_shared_cache()

    theirs = await client.get(PAGE, params={"limit": 5}, headers=musicbud_backend.headers(4001))
    assert theirs.status_code == 200
    assert theirs.json() == expected
    # Answered by the fast path: Django's request cycle never ran.
    assert django_requests == []


@pytest.mark.usefixtures("no_models", "transactional_db")
async def test_a_new_musicbud_user_gets_a_local_account_on_first_sight_that_cannot_log_in(
    musicbud_backend: Backend,
) -> None:
    musicbud_backend.add_user(17, "ada")
    assert (await _get(STATUS, musicbud_backend.headers(17))).status_code == 200
    user = await get_user_model().objects.aget(username="ada")
    assert not user.has_usable_password()
    assert not user.is_staff
    # The user id may come as a string too (newer simplejwt versions write it so): the same account.
    assert (await _get(STATUS, musicbud_backend.headers("17"))).status_code == 200
    assert await get_user_model().objects.filter(username="ada").acount() == 1


@pytest.mark.usefixtures("seeded", "models")
@pytest.mark.parametrize("path", [PAGE, STATUS], ids=["fast-path", "django"])
async def test_bad_musicbud_tokens_are_401_with_a_code_each(musicbud_backend: Backend, path: str) -> None:
    musicbud_backend.add_user(1, "active")
    musicbud_backend.add_user(2, "retired", active=False)
    cases = {
        "musicbud_user_unknown": musicbud_backend.headers(999),
        "musicbud_user_inactive": musicbud_backend.headers(2),
        "musicbud_token_expired": musicbud_backend.headers(1, lifetime_s=-5),
        "musicbud_token_wrong_type": musicbud_backend.headers(1, token_type="refresh"),
        "musicbud_token_not_valid": musicbud_backend.headers(None),
        # Signed with neither their key nor ours: refused as any foreign token always was.
        "token_not_valid": musicbud_backend.headers(1, key="another-backend-signing-key-of-32-bytes"),
    }
    for code, headers in cases.items():
        response = await _get(path, headers)
        assert (response.status_code, response.json()["error"]["code"]) == (401, code)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.usefixtures("no_models", "transactional_db")
async def test_a_local_staff_account_is_never_taken_over_by_a_musicbud_user(musicbud_backend: Backend) -> None:
    await sync_to_async(make_user)(77, staff=True)
    musicbud_backend.add_user(5, "user77")
    response = await _get(STATUS, musicbud_backend.headers(5))
    assert (response.status_code, response.json()["error"]["code"]) == (401, "musicbud_user_conflict")


@pytest.mark.usefixtures("no_models", "transactional_db")
async def test_the_lookup_is_cached_briefly_and_a_deactivation_counts_once_it_expires(
    musicbud_backend: Backend,
) -> None:
    musicbud_backend.add_user(8, "brief")
    headers = musicbud_backend.headers(8)
    assert (await _get(STATUS, headers)).status_code == 200
    musicbud_backend.set_active(8, False)
    # Within LOOKUP_TTL_S the remembered answer stands (no read of the users database per request) ...
    assert (await _get(STATUS, headers)).status_code == 200
    # ... and when it expires (emptied here), the deactivation is seen.
    clear_shared_cache()
    refused = await _get(STATUS, headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "musicbud_user_inactive")


@pytest.mark.usefixtures("seeded", "models")
@pytest.mark.parametrize("path", [PAGE, STATUS], ids=["fast-path", "django"])
async def test_an_unreachable_users_database_is_a_503_never_an_anonymous_answer(
    musicbud_backend: Backend, settings: Any, path: str
) -> None:
    settings.MUSICBUD_USERS_DATABASE_URL = "postgres://nobody:x@127.0.0.1:1/users"
    response = await _get(path, musicbud_backend.headers(1))
    assert (response.status_code, response.json()["error"]["code"]) == (503, "musicbud_users_unavailable")


@pytest.mark.usefixtures("no_models", "transactional_db")
async def test_with_the_feature_off_a_musicbud_token_is_refused_and_our_own_login_still_works(
    settings: Any,
) -> None:
    settings.MUSICBUD_JWT_SIGNING_KEY = settings.MUSICBUD_USERS_DATABASE_URL = None
    refused = await _get(STATUS, {"Authorization": f"Bearer {mint(1, key=SIGNING_KEY)}"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "token_not_valid")
    await sync_to_async(make_user)(31)
    client = asgi_client()
    ours = Api(client, (await obtain_tokens(client, "user31"))["access"])
    assert (await ours.get(STATUS)).status_code == 200


@pytest.mark.usefixtures("no_models", "transactional_db")
async def test_one_setting_without_the_other_fails_loudly(settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.MUSICBUD_JWT_SIGNING_KEY, settings.MUSICBUD_USERS_DATABASE_URL = SIGNING_KEY, None
    with pytest.raises(ImproperlyConfigured, match="set both or neither"):
        musicbud_tokens.config()


@pytest.fixture
def postgres_users_url(postgres_settings: None) -> Iterator[str]:
    """The backend's users table in a database of its own on the test PostgreSQL server."""
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    name = f"{os.environ.get('DATABASE_TEST_NAME') or 'test_musicbud'}_backend_users"
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"{base}/{name}") as db:
        db.execute(TABLE.replace("INTEGER PRIMARY KEY", "BIGINT PRIMARY KEY"))
        db.execute(
            "INSERT INTO app_djangoparentuser VALUES (42, '!', NULL, false, 'grace', 'g@example.com', true, false, "
            "'0123456789abcdef0123456789abcdef')"
        )
    yield f"{base}/{name}"
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.usefixtures("no_models", "transactional_db")
async def test_the_users_table_is_read_from_postgresql_read_only(
    musicbud_backend: Backend, settings: Any, postgres_users_url: str
) -> None:
    settings.MUSICBUD_USERS_DATABASE_URL = postgres_users_url
    assert (await _get(STATUS, musicbud_backend.headers(42))).status_code == 200
    assert await get_user_model().objects.filter(username="grace").aexists()
    missing = await _get(STATUS, musicbud_backend.headers(43))
    assert missing.json()["error"]["code"] == "musicbud_user_unknown"
