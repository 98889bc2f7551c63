"""The process's cache client for the request path: values that several workers share.

With ``REDIS_URL`` set it is Redis through redis-py's native asyncio client (one client per event loop,
hiredis parsing): no thread hop per call, which is what made a cached page cost ~20 hops before. Without
it (the embedded demo) it is one SQLite file shared by the server's workers and every command
(``musicbud.file_cache``, ``CACHE_FILE``), or with ``EMBEDDED_CACHE=memory`` Django's local-memory cache, one
per process (reaching no other process). Both do their little I/O inline.

The interface is deliberately small: bytes values, and one ``read`` that fetches several keys and bumps
one counter in a single round trip (a cached recommendation page needs its generations, its page, the
user's deny-list entry and throttle counter: one round trip for all of them).

A cache outage is not a request failure: every call raises ``CacheUnavailable`` (a typed error the
callers turn into their documented fallback: a miss, an unthrottled request) and the outage is logged
at most once per interval, so it does not flood the logs.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import redis.asyncio as aioredis
from django.conf import settings
from django.core.cache import caches
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KEY_PREFIX = "musicbud:"
# A dead Redis must cost milliseconds per request, not seconds.
SOCKET_TIMEOUT_S = 0.5
# Connections per worker process. A burst of requests waits for one of them (a command holds one for well
# under a millisecond) instead of opening a connection each: redis-py's default pool refuses a 101st
# ("Too many connections"), which a 1,000-connection burst reached (bench/http.py). The wait is an
# asyncio.Semaphore: redis-py's BlockingConnectionPool does the same with a timeout per acquisition,
# which cost more than the command itself (cProfile of a server under wrk).
POOL_SIZE = 32
_ERROR_LOG_INTERVAL_S = 60.0
_last_error_logged_at: float | None = None


class CacheUnavailable(Exception):
    """The cache did not answer; callers fall back (a miss, a skipped write) and never fail the request."""


def log_cache_error(exc: BaseException) -> None:
    """Log a cache outage at most once per interval."""
    global _last_error_logged_at
    now = time.monotonic()
    if _last_error_logged_at is None or now - _last_error_logged_at >= _ERROR_LOG_INTERVAL_S:
        _last_error_logged_at = now
        logger.error("cache unavailable, serving without it: %s: %s", exc.__class__.__name__, exc)


@dataclass(frozen=True)
class Counter:
    """A counter to increment in the same round trip as a read; it expires ``ttl_s`` after its first use."""

    key: str
    ttl_s: int


@dataclass(frozen=True)
class Count:
    """A counter's value after the increment, and the seconds until it expires (starts again from zero)."""

    value: int
    expires_in_s: int


class Backend(Protocol):
    async def read(self, keys: Sequence[str], counter: Counter | None) -> tuple[list[bytes | None], Count | None]: ...

    async def write(
        self, values: Mapping[str, bytes], ttl_s: int | None, unless_set: Mapping[str, tuple[bytes, int | None]]
    ) -> None: ...

    async def delete(self, keys: Sequence[str]) -> None: ...


def _as_bytes(values: Sequence[object]) -> list[bytes | None]:
    # The client never decodes responses, so values are bytes; the annotation of mget allows str too.
    return [value if isinstance(value, bytes) else None for value in values]


# KEYS: the keys to read, then the counter; ARGV[1]: the counter's lifetime. Returns the values, then the
# counter's new value and its seconds to live. One command instead of a pipeline of four: redis-py's
# pipeline machinery cost about as much again as the round trip itself (0.63 vs 0.37 ms a call here).
_READ_AND_COUNT = """
local counter = KEYS[#KEYS]
local count = redis.call('INCR', counter)
if count == 1 then redis.call('EXPIRE', counter, ARGV[1]) end
local values = {}
if #KEYS > 1 then values = redis.call('MGET', unpack(KEYS, 1, #KEYS - 1)) end
values[#KEYS] = count
values[#KEYS + 1] = redis.call('TTL', counter)
return values
"""


class RedisBackend:
    def __init__(self, url: str) -> None:
        pool = aioredis.ConnectionPool.from_url(
            url, max_connections=POOL_SIZE, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S
        )
        self.client = aioredis.Redis(connection_pool=pool)
        self.slots = asyncio.Semaphore(POOL_SIZE)
        self.read_and_count = self.client.register_script(_READ_AND_COUNT)

    async def read(self, keys: Sequence[str], counter: Counter | None) -> tuple[list[bytes | None], Count | None]:
        async with self.slots:
            if counter is None:
                return _as_bytes(await self.client.mget([KEY_PREFIX + key for key in keys])), None
            reply = await self.read_and_count(
                keys=[*(KEY_PREFIX + key for key in keys), KEY_PREFIX + counter.key], args=[counter.ttl_s]
            )
        count = Count(value=int(reply[len(keys)]), expires_in_s=max(int(reply[len(keys) + 1]), 0))
        return _as_bytes(reply[: len(keys)]), count

    async def write(
        self, values: Mapping[str, bytes], ttl_s: int | None, unless_set: Mapping[str, tuple[bytes, int | None]]
    ) -> None:
        async with self.slots, self.client.pipeline(transaction=False) as pipe:
            for key, (value, ttl) in unless_set.items():
                pipe.set(KEY_PREFIX + key, value, nx=True, ex=ttl)
            for key, value in values.items():
                pipe.set(KEY_PREFIX + key, value, ex=ttl_s)
            await pipe.execute()

    async def delete(self, keys: Sequence[str]) -> None:
        async with self.slots:
            await self.client.delete(*[KEY_PREFIX + key for key in keys])


_counter_lock = threading.Lock()


class LocalBackend:
    """Django's local-memory cache: one per process, no I/O, so its sync calls run inline."""

    def __init__(self) -> None:
        self.cache = caches["default"]

    async def read(self, keys: Sequence[str], counter: Counter | None) -> tuple[list[bytes | None], Count | None]:
        found = self.cache.get_many(keys)
        return [found.get(key) for key in keys], None if counter is None else self.count(counter)

    def count(self, counter: Counter) -> Count:
        """One read-modify-write of the window (start, value) under the process's lock: atomic, since no other
        process shares this memory. (An ``add`` then ``incr`` was not: a counter that expired between the two
        made ``incr`` raise ValueError, a 500 under load.) A window the cache expired reads as None: a new one."""
        with _counter_lock:
            now = time.time()
            window = self.cache.get(counter.key)
            started, value = window if window is not None and window[0] + counter.ttl_s > now else (now, 0)
            remaining = started + counter.ttl_s - now
            self.cache.set(counter.key, (started, value + 1), timeout=remaining)
        return Count(value + 1, max(int(remaining), 0))

    async def write(
        self, values: Mapping[str, bytes], ttl_s: int | None, unless_set: Mapping[str, tuple[bytes, int | None]]
    ) -> None:
        for key, (value, ttl) in unless_set.items():
            self.cache.add(key, value, timeout=ttl)
        self.cache.set_many(dict(values), timeout=ttl_s)

    async def delete(self, keys: Sequence[str]) -> None:
        self.cache.delete_many(keys)


_lock = threading.Lock()
_clients: dict[tuple[asyncio.AbstractEventLoop, str], RedisBackend] = {}


def _redis_client(url: str) -> RedisBackend:
    """The client of this event loop (a redis.asyncio connection belongs to the loop that opened it)."""
    loop = asyncio.get_running_loop()
    with _lock:
        client = _clients.get((loop, url))
        if client is None:
            for stale in [key for key in _clients if key[0].is_closed()]:
                del _clients[stale]
            client = RedisBackend(url)
            _clients[(loop, url)] = client
        return client


def backend() -> Backend:
    url = settings.REDIS_URL
    if url:
        return _redis_client(url)
    if settings.EMBEDDED_CACHE == "memory":
        return LocalBackend()
    from musicbud.file_cache import file_backend  # imports this module's types

    return file_backend(Path(settings.CACHE_FILE))


def shared() -> bool:
    """Whether the cache is shared by every worker and command (Redis, the cache file), not one per process."""
    return bool(settings.REDIS_URL) or settings.EMBEDDED_CACHE != "memory"


async def close() -> None:
    """Close this loop's clients (ASGI lifespan shutdown)."""
    loop = asyncio.get_running_loop()
    with _lock:
        mine = [key for key in _clients if key[0] is loop]
        clients = [_clients.pop(key) for key in mine]
    for client in clients:
        await client.client.aclose()


_ERRORS = (RedisError, OSError, sqlite3.Error)


async def read(keys: Sequence[str], *, counter: Counter | None = None) -> tuple[list[bytes | None], Count | None]:
    """The values of ``keys`` (None where missing) and, if given, the counter after incrementing it."""
    try:
        return await backend().read(keys, counter)
    except _ERRORS as exc:
        raise CacheUnavailable(str(exc)) from exc


async def write(
    values: Mapping[str, bytes], *, ttl_s: int | None, unless_set: Mapping[str, tuple[bytes, int | None]] | None = None
) -> None:
    """Set several keys (``ttl_s`` None: no expiry), and those of ``unless_set`` (value, seconds to live or None)
    where they are missing, in one round trip."""
    try:
        await backend().write(values, ttl_s, unless_set or {})
    except _ERRORS as exc:
        raise CacheUnavailable(str(exc)) from exc


async def delete(keys: Sequence[str]) -> None:
    try:
        await backend().delete(keys)
    except _ERRORS as exc:
        raise CacheUnavailable(str(exc)) from exc


async def ping() -> None:
    """Raise CacheUnavailable unless a written value reads back (the readiness probe)."""
    key = f"readyz:{time.monotonic_ns()}"
    await write({key: b"1"}, ttl_s=5)
    values, _ = await read([key])
    await delete([key])
    if values != [b"1"]:
        raise CacheUnavailable("the cache did not return the value just written")
