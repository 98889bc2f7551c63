"""The one cache of recommendation results, on Django's cache framework (Redis in production).

Keys are derived from everything that changes an answer: user, content type, limit, offset, model
version, A/B variant, and three *generations* (global, per type, per user). Invalidation bumps a
generation, so every page that depended on it becomes unreachable at once without scanning keys
(works the same on Redis and on the local-memory cache). A new model version changes the key by itself.

A cache outage is not a request failure: reads become misses and writes are skipped, logged at most
once per interval so an outage does not flood the logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CACHE_ERRORS = (RedisError, ConnectionInterrupted, OSError)
_ERROR_LOG_INTERVAL_S = 60.0
_last_error_logged_at: float | None = None
T = TypeVar("T")

GLOBAL_GENERATION = "recs:gen:global"


def type_generation_key(content_type: str) -> str:
    return f"recs:gen:type:{content_type}"


def user_generation_key(user_id: int) -> str:
    return f"recs:gen:user:{user_id}"


def log_cache_error(exc: BaseException) -> None:
    global _last_error_logged_at
    now = time.monotonic()
    if _last_error_logged_at is None or now - _last_error_logged_at >= _ERROR_LOG_INTERVAL_S:
        _last_error_logged_at = now
        logger.error("cache unavailable, serving without it: %s: %s", exc.__class__.__name__, exc)


def _tolerant(call: Callable[[], T], default: T) -> T:
    try:
        return call()
    except CACHE_ERRORS as exc:
        log_cache_error(exc)
        return default


def _generations(content_type: str, user_id: int) -> tuple[str, str, str] | None:
    keys = [GLOBAL_GENERATION, type_generation_key(content_type), user_generation_key(user_id)]
    found: dict[str, Any] = cache.get_many(keys)  # one MGET on Redis
    for key in keys:
        if key not in found:
            # Start a missing (new or evicted) generation at a fresh unique value, never at a constant:
            # a constant could make pages cached before an eviction reachable again.
            cache.add(key, uuid.uuid4().hex, timeout=None)
            found[key] = cache.get(key)
            if found[key] is None:
                return None
    return str(found[keys[0]]), str(found[keys[1]]), str(found[keys[2]])


def page_key(
    *,
    user_id: int,
    content_type: str,
    limit: int,
    offset: int,
    model_version: str,
    variant: str,
    generations: tuple[str, str, str],
) -> str:
    raw = json.dumps([user_id, content_type, limit, offset, model_version, variant, *generations])
    return "recs:page:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


class PageCache:
    """Cached recommendation pages of one (user, type, limit, offset, version, variant) request."""

    def __init__(
        self, *, user_id: int, content_type: str, limit: int, offset: int, model_version: str, variant: str
    ) -> None:
        self._parts: dict[str, Any] = {
            "user_id": user_id,
            "content_type": content_type,
            "limit": limit,
            "offset": offset,
            "model_version": model_version,
            "variant": variant,
        }
        self._key: str | None = None

    def _resolve_key(self) -> str | None:
        if self._key is None:
            generations = _generations(str(self._parts["content_type"]), int(self._parts["user_id"]))
            if generations is None:
                return None
            self._key = page_key(generations=generations, **self._parts)
        return self._key

    def _read(self) -> dict[str, Any] | None:
        key = self._resolve_key()
        return None if key is None else cache.get(key)

    def _write(self, page: dict[str, Any]) -> None:
        key = self._resolve_key()
        if key is not None:
            cache.set(key, page, timeout=settings.RECOMMENDATIONS_CACHE_TTL)

    # django-redis has no native async: its a* methods each hop to a thread. The whole read (generations
    # and page) is one hop instead of four, which is most of a cached request's cost.
    async def get(self) -> dict[str, Any] | None:
        return await sync_to_async(_tolerant)(self._read, None)

    async def set(self, page: dict[str, Any]) -> None:
        await sync_to_async(_tolerant)(lambda: self._write(page), None)


async def _bump(key: str) -> None:
    await sync_to_async(_tolerant)(lambda: cache.set(key, uuid.uuid4().hex, timeout=None), None)


async def invalidate_user(user_id: int) -> None:
    """Forget every cached page of one user (after they like or dislike something)."""
    await _bump(user_generation_key(user_id))


async def invalidate_type(content_type: str) -> None:
    await _bump(type_generation_key(content_type))


async def invalidate_all() -> None:
    await _bump(GLOBAL_GENERATION)
