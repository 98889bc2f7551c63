"""Every cached dataset of the recommender, one key function each: pages, the popular pool, generations.

Recommendation pages are stored as the rendered response body, so a hit costs no serialization. A page is
valid for the *generations* it was computed under (global, per type, per user): invalidation writes a new
generation, and every page computed under the old one stops matching at once, without scanning keys (the
same on Redis and on the local-memory cache). The page's key holds everything else that shapes the answer
(user, type, limit, offset, model version, A/B variant), so a new model version changes the key by itself.

Reads and writes go through ``musicbud.cache`` (Redis' native asyncio client in production). A cache
outage is never a request failure: a read becomes a miss and a write is skipped, logged once per interval.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from musicbud import cache
from musicbud.cache import CacheUnavailable, log_cache_error

GLOBAL_GENERATION = "recs:gen:global"
POPULAR_TTL_S = 600
# The guests' public lists: the same for everyone, so one copy serves every caller for this long (a new
# model changes the key at once).
PUBLIC_TTL_S = 300
# Long enough to cover a graph outage; refreshed whenever the graph answers.
POPULAR_LAST_GOOD_TTL_S = 7 * 24 * 3600
_GENERATIONS_END = b"\n"

Generations = tuple[bytes, bytes, bytes]


def type_generation_key(content_type: str) -> str:
    return f"recs:gen:type:{content_type}"


def user_generation_key(user_id: int) -> str:
    return f"recs:gen:user:{user_id}"


def page_key(*, user_id: int, content_type: str, limit: int, offset: int, model_version: str, variant: str) -> str:
    raw = json.dumps([user_id, content_type, limit, offset, model_version, variant])
    # A hash of everything that shapes the answer, not the user id in clear.
    return "recs:page:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def public_key(*, types: Sequence[str], limit: int, model_versions: Sequence[str]) -> str:
    """The guests' lists (GET /v1/recommendations/public/): shaped by the types, the limit and the served models."""
    raw = json.dumps([list(types), limit, list(model_versions)])
    return "recs:public:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def popular_key(content_type: str) -> str:
    return f"recs:popular:{content_type}"


def popular_last_good_key(content_type: str) -> str:
    return f"recs:popular-last-good:{content_type}"


@dataclass(frozen=True)
class PageSlot:
    """Where one page of one user's recommendations is cached, and the generations it depends on."""

    user_id: int
    content_type: str
    limit: int
    offset: int
    model_version: str
    variant: str

    @property
    def key(self) -> str:
        return page_key(
            user_id=self.user_id, content_type=self.content_type, limit=self.limit, offset=self.offset,
            model_version=self.model_version, variant=self.variant,
        )  # fmt: skip

    @property
    def keys(self) -> list[str]:
        """What one lookup reads: the three generations, then the page."""
        return [GLOBAL_GENERATION, type_generation_key(self.content_type), user_generation_key(self.user_id), self.key]

    @staticmethod
    def body(values: Sequence[bytes | None]) -> bytes | None:
        """The cached body from the values of ``keys``, if it was cached under the current generations."""
        *generations, page = values
        if page is None or any(g is None for g in generations):
            return None
        tag, _, body = page.partition(_GENERATIONS_END)
        return body if tag == b"|".join(g for g in generations if g is not None) else None

    async def lookup(self) -> tuple[bytes | None, list[bytes | None]]:
        """The cached body (None on a miss or a cache outage) and the values read, for ``store``."""
        try:
            values, _ = await cache.read(self.keys)
        except CacheUnavailable as exc:
            log_cache_error(exc)
            return None, []
        return self.body(values), values

    async def store(self, body: bytes, values_read: Sequence[bytes | None]) -> None:
        """Cache ``body`` under the generations read before it was computed (an invalidation meanwhile wins).

        A missing generation (new, or evicted) starts at a fresh unique value, never at a constant (a
        constant could make pages cached before an eviction valid again), written only if still missing, in
        the same round trip as the page. If another request created it meanwhile, this page carries a value
        the generation does not have: it never matches, and the next request computes the page again.
        """
        generations: list[bytes | None] = list(values_read[:3]) if len(values_read) == 4 else [None, None, None]
        new = {}
        for n, key in enumerate(self.keys[:3]):
            if generations[n] is None:
                generations[n] = new[key] = uuid.uuid4().hex.encode()
        tag = b"|".join(g for g in generations if g is not None)
        try:
            await cache.write(
                {self.key: tag + _GENERATIONS_END + body}, ttl_s=settings.RECOMMENDATIONS_CACHE_TTL, unless_set=new
            )
        except CacheUnavailable as exc:
            # The page was computed; not caching it only costs the next request a recomputation.
            log_cache_error(exc)


async def _bump(key: str) -> None:
    try:
        await cache.write({key: uuid.uuid4().hex.encode()}, ttl_s=None)
    except CacheUnavailable as exc:
        log_cache_error(exc)


async def invalidate_user(user_id: int) -> None:
    """Forget every cached page of one user (after they like or dislike something)."""
    await _bump(user_generation_key(user_id))


async def invalidate_type(content_type: str) -> None:
    await _bump(type_generation_key(content_type))


async def invalidate_all() -> None:
    await _bump(GLOBAL_GENERATION)


# --- the popular pool: what is served while a type has no model ---------------------------------------

PopularPool = list[tuple[str, float]]


def _decode_pool(raw: bytes | None) -> PopularPool | None:
    return None if raw is None else [(str(item), float(score)) for item, score in json.loads(raw)]


async def cached_popular(content_type: str) -> tuple[PopularPool | None, PopularPool | None]:
    """(fresh pool, last good pool) of a type; None where absent or when the cache is down."""
    try:
        (fresh, last_good), _ = await cache.read([popular_key(content_type), popular_last_good_key(content_type)])
    except CacheUnavailable as exc:
        log_cache_error(exc)
        return None, None
    return _decode_pool(fresh), _decode_pool(last_good)


async def store_popular(content_type: str, pool: PopularPool) -> None:
    raw = json.dumps(pool).encode()
    try:
        await cache.write({popular_key(content_type): raw}, ttl_s=POPULAR_TTL_S)
        await cache.write({popular_last_good_key(content_type): raw}, ttl_s=POPULAR_LAST_GOOD_TTL_S)
    except CacheUnavailable as exc:
        # The pool was computed; not caching it only costs the next request a query.
        log_cache_error(exc)


# --- the guests' public lists (rendered bodies, the same for every caller) ---------------------------------


async def cached_public(key: str) -> bytes | None:
    try:
        (body,), _ = await cache.read([key])
    except CacheUnavailable as exc:
        log_cache_error(exc)
        return None
    return body


async def store_public(key: str, body: bytes) -> None:
    try:
        await cache.write({key: body}, ttl_s=PUBLIC_TTL_S)
    except CacheUnavailable as exc:
        log_cache_error(exc)
