"""MusicBud's own access tokens, accepted beside ours: the app logs in at MusicBud's backend and sends that token.

MusicBud's backend (its public repository, ``musicbud/settings.py``) issues simplejwt access tokens: HS256,
signed with its ``SECRET_KEY``, claims ``token_type: "access"``, ``exp``, ``iat``, ``jti`` and ``user_id`` = the
id of its user model ``app.DjangoParentUser`` (table ``app_djangoparentuser``). With
``MUSICBUD_JWT_SIGNING_KEY`` (that key) and ``MUSICBUD_USERS_DATABASE_URL`` (a database holding that table,
read only) set, such a token is a caller here:

1. the signature, ``exp`` and ``token_type`` are checked (PyJWT; each failure a 401 with its own code);
2. ``user_id`` is looked up in ``app_djangoparentuser`` (``username``, ``is_active``): unknown or inactive
   is a 401 with its own code;
3. the username is a local account, created on first sight (unusable password: it never logs in here). Our
   events, buds, opt-out and forget-me key on that account, and on the ``musicbud`` graph profile the
   account is the graph's ``ParentUser`` of the same username (``recommendations.data.neo4j_accounts``
   joins people to accounts by username, as MusicBud itself does). A local staff account is never taken
   over by a backend user of the same name (401 ``musicbud_user_conflict``).

Steps 2 and 3 are cached for ``LOOKUP_TTL_S`` in the shared cache (``musicbud.cache``), so a deactivation at
the backend takes effect within that time. With the cache down, every request reads the users database
(logged, as every cache outage is). The users database down is a 503 ``musicbud_users_unavailable``: never
an anonymous answer. MusicBud tokens never carry staff rights here.

The hooks: ``musicbud.api.ApiView`` calls ``authenticate_request`` before DRF's authentication, and the fast
path (``recommendations.api.fast``) calls ``caller_of_raw`` when the token is not one of ours.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import dj_database_url
import jwt
import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.models import TokenUser

from musicbud import cache
from musicbud.auth import Caller, verify_access_token
from musicbud.cache import CacheUnavailable, log_cache_error
from musicbud.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"  # the backend's SIMPLE_JWT["ALGORITHM"]
USER_ID_CLAIM = "user_id"
TOKEN_TYPE_CLAIM = "token_type"
# How long a backend user's lookup is remembered: how late a deactivation at the backend is seen here.
LOOKUP_TTL_S = 60
CONNECT_TIMEOUT_S = 3
_USERS_QUERY = "SELECT username, is_active FROM app_djangoparentuser WHERE id = {}"
# Verified tokens remembered per process (a signature checks out or not forever; expiry is checked on use).
VERIFIED_TOKENS = 50_000


# --- errors (401s are DRF's AuthenticationFailed, so both entry points answer them as Django's stack does) ---


class MusicBudTokenInvalid(exceptions.AuthenticationFailed):
    default_detail = "This MusicBud token is not valid."
    default_code = "musicbud_token_not_valid"


class MusicBudTokenExpired(MusicBudTokenInvalid):
    default_detail = "This MusicBud token has expired; log in again at MusicBud."
    default_code = "musicbud_token_expired"


class MusicBudTokenWrongType(MusicBudTokenInvalid):
    default_detail = "This MusicBud token is not an access token (a refresh token cannot authenticate)."
    default_code = "musicbud_token_wrong_type"


class MusicBudUserUnknown(MusicBudTokenInvalid):
    default_detail = "This MusicBud token's user does not exist at MusicBud."
    default_code = "musicbud_user_unknown"


class MusicBudUserInactive(MusicBudTokenInvalid):
    default_detail = "This MusicBud token's user is not active."
    default_code = "musicbud_user_inactive"


class MusicBudUserConflict(MusicBudTokenInvalid):
    default_detail = "This MusicBud user's name belongs to a staff account of this service."
    default_code = "musicbud_user_conflict"


class MusicBudUsersUnavailable(DependencyUnavailable):
    code = "musicbud_users_unavailable"
    default_message = "MusicBud's users database is unavailable; retry later."


# --- settings --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    signing_key: str
    users_database_url: str


def config() -> Config | None:
    """The setting pair, or None when MusicBud tokens are off; one without the other fails loudly."""
    key = getattr(settings, "MUSICBUD_JWT_SIGNING_KEY", None)
    url = getattr(settings, "MUSICBUD_USERS_DATABASE_URL", None)
    if not key and not url:
        return None
    if not key or not url:
        raise ImproperlyConfigured(
            "MUSICBUD_JWT_SIGNING_KEY and MUSICBUD_USERS_DATABASE_URL go together: set both or neither."
        )
    return Config(signing_key=key, users_database_url=url)


# --- step 1: the token -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claims:
    backend_user_id: int
    issued_at: int
    expires_at: int


_NOT_THEIRS = "not_theirs"


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _decode(raw: str, signing_key: str) -> Claims | str:
    """The claims of a token signed with the key, or the code of why there are none (cached: a pure function
    of its arguments; expiry is checked on every use)."""
    try:
        payload = jwt.decode(
            raw, signing_key, algorithms=[ALGORITHM], options={"require": ["exp"], "verify_exp": False}
        )
    except (jwt.DecodeError, jwt.InvalidAlgorithmError):
        return _NOT_THEIRS  # malformed, another key's signature, or another algorithm (``none`` included)
    except jwt.InvalidTokenError:
        return MusicBudTokenInvalid.default_code  # signed with the key, but no ``exp`` or a malformed one
    if payload.get(TOKEN_TYPE_CLAIM) != "access":
        return MusicBudTokenWrongType.default_code
    user_id = payload.get(USER_ID_CLAIM)
    # simplejwt writes an integer id as a number, other ids as strings (newer versions: always a string).
    if isinstance(user_id, str) and user_id.isdigit():
        user_id = int(user_id)
    exp, iat = payload.get("exp"), payload.get("iat", 0)
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        return MusicBudTokenInvalid.default_code
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        return MusicBudTokenInvalid.default_code
    return Claims(backend_user_id=user_id, issued_at=int(iat), expires_at=int(exp))


_FAILURES: dict[str, type[MusicBudTokenInvalid]] = {
    error.default_code: error for error in (MusicBudTokenInvalid, MusicBudTokenWrongType)
}


def verify(raw: str, signing_key: str) -> Claims | None:
    """The claims of a MusicBud access token; None when it is not signed with MusicBud's key (not theirs);
    a 401 error when it is theirs but not usable (expired, not an access token, no user id)."""
    decoded = _decode(raw, signing_key)
    if decoded == _NOT_THEIRS:
        return None
    if isinstance(decoded, str):
        raise _FAILURES[decoded]()
    if decoded.expires_at <= time.time():
        raise MusicBudTokenExpired()
    return decoded


# --- steps 2 and 3: the backend user, then the local account -----------------------------------------------

_UNKNOWN = b"unknown"
_INACTIVE = b"inactive"
_CONFLICT = b"conflict"
_OUTCOMES: dict[bytes, type[MusicBudTokenInvalid]] = {
    _UNKNOWN: MusicBudUserUnknown,
    _INACTIVE: MusicBudUserInactive,
    _CONFLICT: MusicBudUserConflict,
}


def lookup_key(backend_user_id: int) -> str:
    return f"musicbud-user:{backend_user_id}"


def _backend_user(url: str, backend_user_id: int) -> tuple[str, bool] | None:
    """(username, is_active) of the backend's user, read only; MusicBudUsersUnavailable when it cannot be read."""
    parsed = dj_database_url.parse(url)
    try:
        if parsed["ENGINE"] == "django.db.backends.sqlite3":
            with sqlite3.connect(f"file:{parsed['NAME']}?mode=ro", uri=True, timeout=CONNECT_TIMEOUT_S) as db:
                row = db.execute(_USERS_QUERY.format("?"), (backend_user_id,)).fetchone()
            db.close()
        else:
            with psycopg.connect(
                url, connect_timeout=CONNECT_TIMEOUT_S, options="-c default_transaction_read_only=on"
            ) as conn:
                row = conn.execute(_USERS_QUERY.format("%s"), (backend_user_id,)).fetchone()
    except (sqlite3.Error, psycopg.Error) as exc:
        logger.error("MusicBud's users database: %s: %s", exc.__class__.__name__, exc)
        raise MusicBudUsersUnavailable() from exc
    if row is None:
        return None
    return str(row[0]), bool(row[1])


def _local_account(username: str) -> int | bytes:
    """The local account of a backend username (created on first sight), or why there is none to use."""
    model = get_user_model()
    by_name: dict[str, Any] = {model.USERNAME_FIELD: username}
    try:
        # An unusable password: the account never logs in here, its owner logs in at MusicBud.
        user, created = model.objects.get_or_create(**by_name, defaults={"password": make_password(None)})
    except IntegrityError:  # created by a concurrent first request
        user, created = model.objects.get(**by_name), False
    if created:
        logger.info("local account %s created for MusicBud user %r", user.pk, username)
    if user.is_staff or user.is_superuser:
        return _CONFLICT
    if not user.is_active:
        return _INACTIVE
    return int(user.pk)


def _resolve(url: str, backend_user_id: int) -> bytes:
    found = _backend_user(url, backend_user_id)
    if found is None:
        return _UNKNOWN
    username, active = found
    if not active:
        return _INACTIVE
    outcome = _local_account(username)
    return outcome if isinstance(outcome, bytes) else str(outcome).encode()


async def local_user_id(config: Config, backend_user_id: int) -> int:
    """Our user id of the backend's user (cached ``LOOKUP_TTL_S``); 401 errors for unknown, inactive, conflict."""
    key = lookup_key(backend_user_id)
    try:
        (cached,), _ = await cache.read([key])
    except CacheUnavailable as exc:
        log_cache_error(exc)
        cached = None
    outcome = cached
    if outcome is None:
        outcome = await sync_to_async(_resolve)(config.users_database_url, backend_user_id)
        try:
            await cache.write({key: outcome}, ttl_s=LOOKUP_TTL_S)
        except CacheUnavailable as exc:
            log_cache_error(exc)
    if outcome in _OUTCOMES:
        raise _OUTCOMES[outcome]()
    return int(outcome)


# --- the hooks ---------------------------------------------------------------------------------------------


async def caller_of_raw(raw: str) -> Caller | None:
    """The caller of a raw bearer token if it is MusicBud's (None when the feature is off or the token is not
    signed with MusicBud's key); errors: 401s above, 503 when the users database cannot be read."""
    conf = config()
    if conf is None:
        return None
    claims = verify(raw, conf.signing_key)
    if claims is None:
        return None
    user_id = await local_user_id(conf, claims.backend_user_id)
    return Caller(user_id=user_id, is_staff=False, issued_at=claims.issued_at)


def _bearer(request: Request) -> str | None:
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    return parts[1] if len(parts) == 2 and parts[0] == "Bearer" else None


async def authenticate_request(request: Request) -> None:
    """Authenticate a DRF request that carries a MusicBud token, before DRF's own authentication (which then
    keeps what is set here). A token of ours, or one of nobody, is left to DRF as before."""
    raw = _bearer(request)
    if raw is None or config() is None:
        return
    try:
        verify_access_token(raw)
    except InvalidToken:
        pass
    else:
        return
    caller = await caller_of_raw(raw)
    if caller is None:
        return  # neither ours nor theirs: DRF's authentication refuses it as before
    request.user = TokenUser({USER_ID_CLAIM: caller.user_id})  # type: ignore[arg-type,assignment]  # reads claims
    request.auth = caller
