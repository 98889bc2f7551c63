"""Who is calling: stateless JWT verification (no database read per request) and the deny list.

An access token is accepted on its signature, type and expiry alone (simplejwt's stateless authentication):
the user row is not read, so authentication costs no query and no thread hop. What that gives up, and how
it is bounded:

- A user who is deactivated, deleted, or loses staff status still holds a valid access token until it
  expires (``JWT_ACCESS_MINUTES``, default 30). So that change puts the user on a **deny list** in the
  shared cache: tokens issued before it are refused (401 ``token_revoked``) on every API request, checked in
  the same cache round trip as the request's throttle counter. The entry lives as long as an access token.
- Refreshing reads the user row: an inactive or deleted user gets no new access token, and the new token
  carries the user's current staff status (the ``is_staff`` claim that permissions read).
- If the cache is down when the change is saved, or when a request is checked, the deny list cannot do its
  part (logged): the bound is then the token lifetime. Staff routes (``IsAdminUser``: start a training, read a
  run) fail closed instead while the deny list cannot be read: 503 ``deny_list_unavailable``
  (``musicbud.api.check_caller``), so a demoted staff member keeps none of them during a cache outage. Ordinary
  reads and writes stay open. The admin site is not concerned: its sessions read the user row on every request.

The deny list is written by signal receivers on the user model (connected in ``musicbud.apps``), after the
change commits. ``QuerySet.update()`` sends no signal: call ``deny_user`` after bulk changes of
``is_active`` or ``is_staff``.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from musicbud import cache
from musicbud.cache import CacheUnavailable, log_cache_error

logger = logging.getLogger(__name__)

STAFF_CLAIM = "is_staff"
# Verified access tokens remembered per process: one per active caller of the last token lifetime.
VERIFIED_TOKENS = 50_000


class TokenRevoked(exceptions.AuthenticationFailed):
    default_detail = "This token was revoked (the account was deactivated or changed); log in again."
    default_code = "token_revoked"


@dataclass(frozen=True)
class Caller:
    """An authenticated API caller, from the claims of a verified access token."""

    user_id: int
    is_staff: bool
    issued_at: int


def caller_of(token: Token) -> Caller:
    try:
        return Caller(user_id=int(token["user_id"]), is_staff=bool(token.get(STAFF_CLAIM, False)),
                      issued_at=int(token["iat"]))  # fmt: skip
    except (KeyError, TypeError, ValueError):
        raise InvalidToken("Token contained no recognizable user identification") from None


@dataclass(frozen=True)
class _Verified:
    caller: Caller
    expires_at: int


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verify(raw: str, signing_key: str) -> _Verified:
    token = AccessToken(raw)  # type: ignore[arg-type]  # simplejwt's stub wants bytes | str
    return _Verified(caller_of(token), int(token["exp"]))


def verify_access_token(raw: str) -> Caller:
    """The caller of a raw access token; InvalidToken when it is not a valid, unexpired access token.

    A signature checks out or not forever, so a token verified once is remembered (bounded, by its exact
    text and the signing key); its expiry is checked on every use. PyJWT's decode was the largest piece
    of a cached page's CPU time (~15%, cProfile of a server under wrk).
    """
    try:
        verified = _verify(raw, settings.SIMPLE_JWT["SIGNING_KEY"])
    except TokenError as exc:
        raise InvalidToken({"detail": str(exc), "code": "token_not_valid"}) from exc
    if verified.expires_at <= time.time():
        raise InvalidToken({"detail": "Token is expired", "code": "token_not_valid"})
    return verified.caller


def deny_key(user_id: int) -> str:
    return f"auth:deny:{user_id}"


def refused(caller: Caller, deny_value: bytes | None) -> bool:
    """Whether the deny list refuses this caller's token (one issued before the user was denied)."""
    return deny_value is not None and caller.issued_at <= int(deny_value)


def _access_lifetime_s() -> int:
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    assert isinstance(lifetime, timedelta)
    return int(lifetime.total_seconds())


async def adeny_user(user_id: int, *, at: int | None = None) -> None:
    """Refuse the user's access tokens issued up to ``at`` (now) for as long as such a token can live."""
    when = int(time.time()) if at is None else at
    await cache.write({deny_key(user_id): str(when).encode()}, ttl_s=_access_lifetime_s() + 60)


def deny_user(user_id: int) -> None:
    """``adeny_user`` for sync code (signal receivers, commands), once the current transaction commits."""

    def write() -> None:
        try:
            async_to_sync(adeny_user)(user_id)
        except CacheUnavailable as exc:
            log_cache_error(exc)
            logger.error("user %s could not be put on the deny list; their tokens expire on their own", user_id)
        else:
            logger.info("user %s put on the deny list", user_id)

    transaction.on_commit(write)


def request_caller(request: Request) -> Caller | None:
    """The caller of a DRF request authenticated by simplejwt's stateless authentication, or by a MusicBud
    token (``musicbud.musicbud_tokens`` sets the Caller itself); None if anonymous."""
    if isinstance(request.auth, Caller):
        return request.auth
    return caller_of(request.auth) if isinstance(request.auth, Token) else None


def caller_id(request: Request) -> int:
    """The authenticated caller's user id (views behind IsAuthenticated: this only narrows the type)."""
    caller = request_caller(request)
    if caller is None:
        raise exceptions.NotAuthenticated
    return caller.user_id


class TokenObtainSerializer(TokenObtainPairSerializer):
    """Tokens that carry the staff flag, so permissions need no user row."""

    @classmethod
    def get_token(cls, user: Any) -> Token:
        token = super().get_token(user)
        token[STAFF_CLAIM] = bool(user.is_staff)
        return token


class TokenRefreshUserSerializer(TokenRefreshSerializer):
    """Refresh reads the user: none for a deleted or inactive user, and the current staff flag otherwise."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = RefreshToken(attrs["refresh"])
        user_id = refresh.payload.get("user_id")
        user = get_user_model().objects.filter(pk=user_id).first() if isinstance(user_id, str | int) else None
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        access = refresh.access_token
        access[STAFF_CLAIM] = bool(user.is_staff)
        return {"access": str(access)}


def remember_flags(sender: Any, instance: Any, **kwargs: Any) -> None:
    """pre_save: the flags the row had before this save (a new user has none)."""
    before = sender.objects.filter(pk=instance.pk).values("is_active", "is_staff").first() if instance.pk else None
    instance._flags_before_save = before


def flags_before_save(instance: Any) -> dict[str, bool] | None:
    """A user's ``is_active`` and ``is_staff`` before the save being handled (None for a new user), for
    post_save receivers (``remember_flags`` records them)."""
    before: dict[str, bool] | None = getattr(instance, "_flags_before_save", None)
    return before


def deny_on_demotion(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    """post_save: deactivation, or losing staff status, revokes the tokens issued before it."""
    before = flags_before_save(instance)
    if before is None:
        return
    if (before["is_active"] and not instance.is_active) or (before["is_staff"] and not instance.is_staff):
        deny_user(instance.pk)


def deny_on_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    deny_user(instance.pk)
