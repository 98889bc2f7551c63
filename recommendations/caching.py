"""Every cached dataset of the recommender, one key function each: pages, lists, buds, pools, the catalog index.

Recommendation pages, browsing lists and bud lists are stored as the rendered response body, so a hit costs no
serialization. Each is valid for the *generations* it was computed under (global and per type for all of them;
per user for a user's pages and buds; the buds generation for bud lists): invalidation writes a new
generation, and every body computed under the old one stops matching at once, without scanning keys (the
same on Redis and on the local-memory cache). The key holds everything else that shapes the answer (user,
type, limit, offset, filters, model version, A/B variant), so a new model version changes the key by itself.

A type's hidden items (``recommendations.hiding``) are cached the same way, under the type's generation: hiding
or un-hiding an item bumps it, so the hidden set and every page, list and public list of the type computed with
the old set stop matching together, on every worker.

Reads and writes go through ``musicbud.cache`` (Redis' native asyncio client in production). A cache
outage is never a request failure: a read becomes a miss and a write is skipped, logged once per interval.
An invalidation that fails is not skipped: it raises ``InvalidationPending`` (the caller says what may be stale)
after recording what it was to do (``PendingInvalidation``), which ``retry_pending_invalidations`` (the worker,
periodically) and the process's next invalidation apply once the cache answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from musicbud import cache
from musicbud.cache import CacheUnavailable, log_cache_error
from musicbud.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

GLOBAL_GENERATION = "recs:gen:global"
# Bumped when someone may no longer be shown as a bud (an opt-out, a forgotten or deactivated user): every
# bud list, of every user, is computed again.
BUDS_GENERATION = "recs:gen:buds"
POPULAR_TTL_S = 600
# The guests' public lists: the same for everyone, so one copy serves every caller for this long (a new
# model changes the key at once).
PUBLIC_TTL_S = 300
# Long enough to cover a graph outage; refreshed whenever the graph answers.
POPULAR_LAST_GOOD_TTL_S = 7 * 24 * 3600
# The catalog's genres, years and ids for filters and the latest list: a catalog edit shows within this.
CATALOG_INDEX_TTL_S = 600
_GENERATIONS_END = b"\n"

PoolName = Literal["popular", "trending"]


def type_generation_key(content_type: str) -> str:
    return f"recs:gen:type:{content_type}"


def user_generation_key(user_id: int) -> str:
    return f"recs:gen:user:{user_id}"


def _hashed(prefix: str, *parts: object) -> str:
    # A hash of everything that shapes the answer, not the user id in clear.
    return prefix + hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:40]


def page_key(
    *, user_id: int, content_type: str, limit: int, offset: int, model_version: str, variant: str, filters: str = ""
) -> str:
    return _hashed("recs:page:", user_id, content_type, limit, offset, model_version, variant, filters)


def list_key(*, name: str, content_type: str, limit: int, offset: int, filters: str, source_version: str) -> str:
    """A browsing list (popular, trending, latest): the same for every caller."""
    return _hashed("recs:list:", name, content_type, limit, offset, filters, source_version)


def buds_key(*, user_id: int, content_type: str, limit: int, offset: int, model_versions: Sequence[str]) -> str:
    return _hashed("recs:buds:", user_id, content_type, limit, offset, list(model_versions))


def pool_key(name: PoolName, content_type: str) -> str:
    return f"recs:{name}:{content_type}"


def pool_last_good_key(name: PoolName, content_type: str) -> str:
    return f"recs:{name}-last-good:{content_type}"


def public_key(*, types: Sequence[str], limit: int, model_versions: Sequence[str]) -> str:
    """The guests' lists (GET /v1/recommendations/public/): shaped by the types, the limit and the served models."""
    return _hashed("recs:public:", list(types), limit, list(model_versions))


def hidden_key(content_type: str) -> str:
    return f"recs:hidden:{content_type}"


def popular_key(content_type: str) -> str:
    return pool_key("popular", content_type)


def popular_last_good_key(content_type: str) -> str:
    return pool_last_good_key("popular", content_type)


def catalog_index_key(content_type: str) -> str:
    return f"recs:catalog-index:{content_type}"


def catalog_index_last_good_key(content_type: str) -> str:
    return f"recs:catalog-index-last-good:{content_type}"


class GenerationalBody:
    """A rendered body cached under ``key``, valid for the generations named by ``generation_keys``."""

    @property
    def key(self) -> str:
        raise NotImplementedError

    @property
    def generation_keys(self) -> list[str]:
        raise NotImplementedError

    @property
    def ttl_s(self) -> int:
        return int(settings.RECOMMENDATIONS_CACHE_TTL)

    @property
    def creates_generations(self) -> bool:
        """Whether ``store`` starts a missing generation. A value read while another body is being computed (the
        hidden set, during a page) must not: the page would then carry a generation value that lost the race."""
        return True

    @property
    def keys(self) -> list[str]:
        """What one lookup reads: the generations, then the body."""
        return [*self.generation_keys, self.key]

    def body(self, values: Sequence[bytes | None]) -> bytes | None:
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
        constant could make bodies cached before an eviction valid again), written only if still missing, in
        the same round trip as the body. If another request created it meanwhile, this body carries a value
        the generation does not have: it never matches, and the next request computes it again.
        """
        names = self.generation_keys
        generations: list[bytes | None] = (
            list(values_read[: len(names)]) if len(values_read) == len(names) + 1 else [None] * len(names)
        )
        if not self.creates_generations and any(g is None for g in generations):
            return
        new: dict[str, tuple[bytes, int | None]] = {}
        for n, key in enumerate(names):
            if generations[n] is None:
                fresh = uuid.uuid4().hex.encode()
                generations[n] = fresh
                new[key] = (fresh, generation_ttl_s(key))
        tag = b"|".join(g for g in generations if g is not None)
        try:
            await cache.write({self.key: tag + _GENERATIONS_END + body}, ttl_s=self.ttl_s, unless_set=new)
        except CacheUnavailable as exc:
            # The body was computed; not caching it only costs the next request a recomputation.
            log_cache_error(exc)


@dataclass(frozen=True)
class PageSlot(GenerationalBody):
    """Where one page of one user's recommendations is cached, and the generations it depends on."""

    user_id: int
    content_type: str
    limit: int
    offset: int
    model_version: str
    variant: str
    filters: str = ""  # ListFilters.cache_tag(): "" without filters

    @property
    def key(self) -> str:
        return page_key(
            user_id=self.user_id, content_type=self.content_type, limit=self.limit, offset=self.offset,
            model_version=self.model_version, variant=self.variant, filters=self.filters,
        )  # fmt: skip

    @property
    def generation_keys(self) -> list[str]:
        return [GLOBAL_GENERATION, type_generation_key(self.content_type), user_generation_key(self.user_id)]


@dataclass(frozen=True)
class ListSlot(GenerationalBody):
    """A page of a browsing list, shared by every caller. ``source_version``: the model version, or what the
    list came from without one ("popularity", "catalog"), whose pools live shorter."""

    name: str
    content_type: str
    limit: int
    offset: int
    filters: str
    source_version: str
    from_model: bool

    @property
    def key(self) -> str:
        return list_key(
            name=self.name, content_type=self.content_type, limit=self.limit, offset=self.offset,
            filters=self.filters, source_version=self.source_version,
        )  # fmt: skip

    @property
    def generation_keys(self) -> list[str]:
        return [GLOBAL_GENERATION, type_generation_key(self.content_type)]

    @property
    def ttl_s(self) -> int:
        # Without a model the list follows the data service's pools (and the catalog index): as short-lived.
        return super().ttl_s if self.from_model else min(super().ttl_s, POPULAR_TTL_S)


@dataclass(frozen=True)
class BudSlot(GenerationalBody):
    """One page of one user's buds ("all" or one type), for the model versions that computed it."""

    user_id: int
    content_type: str
    limit: int
    offset: int
    model_versions: tuple[str, ...]

    @property
    def key(self) -> str:
        return buds_key(
            user_id=self.user_id, content_type=self.content_type, limit=self.limit, offset=self.offset,
            model_versions=self.model_versions,
        )  # fmt: skip

    @property
    def generation_keys(self) -> list[str]:
        return [GLOBAL_GENERATION, BUDS_GENERATION, user_generation_key(self.user_id)]


@dataclass(frozen=True)
class PublicSlot(GenerationalBody):
    """The guests' lists of some types (the same for every caller), valid for those types' generations."""

    types: tuple[str, ...]
    limit: int
    model_versions: tuple[str, ...]

    @property
    def key(self) -> str:
        return public_key(types=self.types, limit=self.limit, model_versions=self.model_versions)

    @property
    def generation_keys(self) -> list[str]:
        return [GLOBAL_GENERATION, *(type_generation_key(content_type) for content_type in self.types)]

    @property
    def ttl_s(self) -> int:
        return PUBLIC_TTL_S


@dataclass(frozen=True)
class HiddenSlot(GenerationalBody):
    """A type's hidden item ids (a JSON list), valid for the type's generation, which hiding bumps."""

    content_type: str

    @property
    def key(self) -> str:
        return hidden_key(self.content_type)

    @property
    def generation_keys(self) -> list[str]:
        return [GLOBAL_GENERATION, type_generation_key(self.content_type)]

    @property
    def creates_generations(self) -> bool:
        # Read while a page or list is computed: that body's store starts the generations, then this is cached.
        return False


# A user's generation key lives this long after its last bump or creation, so keys of users who left do not pile up.
# Why an expiry cannot resurrect a stale page: a generation never takes a value twice (a bump, or a creation after
# expiry, writes a fresh uuid), so a body tagged with an expired value can never match again. Why longer than any
# body's TTL (pages and bud lists: RECOMMENDATIONS_CACHE_TTL; lists and public lists are shorter): a body is written
# under the generations it read, and the generation must outlive it, or the body is dead weight until it expires
# and an active user would miss once per expiry. A day covers the default hour 24 times; the generation is
# re-created at the first request after it expires (one miss a day for a user active all day).
USER_GENERATION_MIN_TTL_S = 24 * 3600


def user_generation_ttl_s() -> int:
    return max(USER_GENERATION_MIN_TTL_S, 2 * int(settings.RECOMMENDATIONS_CACHE_TTL))


def generation_ttl_s(key: str) -> int | None:
    """How long a generation key lives once written: a user's expires (see above), the shared ones never do."""
    return user_generation_ttl_s() if key.startswith(user_generation_key(0)[:-1]) else None


class InvalidationPending(DependencyUnavailable, CacheUnavailable):
    """An invalidation that did not reach the cache. It is recorded (``PendingInvalidation``) and retried
    (``retry_pending_invalidations``); until then, cached answers may still show what it was to remove, for at
    most their TTL. A ``CacheUnavailable`` too, so a caller that treats a cache outage as logged-and-continue
    keeps doing so; unhandled in a view it is a 503 with this code."""

    code = "invalidation_pending"
    default_message = "The cache did not answer; the invalidation is recorded and will be retried."

    def __init__(self, keys: Sequence[str], *, recorded: bool, pending: int) -> None:
        super().__init__(keys=list(keys), recorded=recorded, pending=pending)
        self.keys = tuple(keys)
        self.recorded = recorded
        self.pending = pending


# Whether this process may have left invalidations pending (unknown at start): a later invalidation first retries
# them, and skips the query once a retry found none. Other processes' failures are the worker's periodic retry's.
_maybe_pending = True


def _record_pending(actions: dict[str, str]) -> int:
    """Record (or re-record) the keys whose invalidation failed; the number now pending."""
    from recommendations.models import PendingInvalidation

    now = timezone.now()
    with transaction.atomic():
        for key, action in actions.items():
            updated = PendingInvalidation.objects.filter(key=key).update(
                action=action, recorded_at=now, attempts=F("attempts") + 1
            )
            if not updated:
                PendingInvalidation.objects.get_or_create(key=key, defaults={"action": action, "recorded_at": now})
        return PendingInvalidation.objects.count()


async def _apply(actions: dict[str, str]) -> None:
    """Bump the generations and delete the keys of ``actions``; CacheUnavailable if the cache did not answer."""
    bumps_by_ttl: dict[int | None, dict[str, bytes]] = {}
    for key, action in actions.items():
        if action == "bump":
            bumps_by_ttl.setdefault(generation_ttl_s(key), {})[key] = uuid.uuid4().hex.encode()
    for ttl, values in bumps_by_ttl.items():
        await cache.write(values, ttl_s=ttl)
    deletes = [key for key, action in actions.items() if action == "delete"]
    if deletes:
        await cache.delete(deletes)


async def _invalidate(actions: dict[str, str]) -> None:
    """Apply ``actions`` (after whatever this process left pending); on failure record them, raise the typed error."""
    global _maybe_pending
    if _maybe_pending:
        try:
            await aretry_pending_invalidations()
        except CacheUnavailable:
            pass  # still down: the actions below fail too and are recorded with the rest
        except DatabaseError as exc:
            logger.warning("pending cache invalidations could not be read (%s); the worker's retry will", exc)
    try:
        await _apply(actions)
    except CacheUnavailable as exc:
        log_cache_error(exc)
        _maybe_pending = True
        try:
            pending = await sync_to_async(_record_pending)(actions)
        except DatabaseError:
            logger.exception("cache invalidation of %s failed and could not be recorded for a retry", list(actions))
            raise InvalidationPending(list(actions), recorded=False, pending=len(actions)) from exc
        logger.warning("cache invalidation of %d keys recorded for a retry (%d pending)", len(actions), pending)
        raise InvalidationPending(list(actions), recorded=True, pending=pending) from exc


async def aretry_pending_invalidations() -> int:
    """Apply every recorded invalidation; the number still pending (0: the cache holds nothing stale).

    Raises CacheUnavailable if the cache still does not answer (everything stays recorded)."""
    global _maybe_pending
    from recommendations.models import PendingInvalidation

    rows = [row async for row in PendingInvalidation.objects.all()]
    if rows:
        await _apply({row.key: row.action for row in rows})
        for row in rows:
            # Only if it did not fail again meanwhile (a new failure moved recorded_at): that one stays pending.
            await PendingInvalidation.objects.filter(pk=row.pk, recorded_at=row.recorded_at).adelete()
    left = await PendingInvalidation.objects.acount()
    _maybe_pending = left > 0
    if rows:
        logger.info("retried %d pending cache invalidations; %d still pending", len(rows), left)
    return left


def retry_pending_invalidations() -> int:
    """``aretry_pending_invalidations`` for sync callers (the worker's periodic task, commands); what is still
    pending. A cache that still does not answer leaves everything recorded (logged) and returns the count."""
    from recommendations.models import PendingInvalidation

    try:
        return async_to_sync(aretry_pending_invalidations)()
    except CacheUnavailable as exc:
        log_cache_error(exc)
        return PendingInvalidation.objects.count()


def pending_invalidations() -> int:
    """How many cache invalidations are recorded as not done yet (any process)."""
    from recommendations.models import PendingInvalidation

    return PendingInvalidation.objects.count()


async def invalidate_user(user_id: int) -> None:
    """Forget every cached page and bud list of one user (after their interactions changed).

    Raises InvalidationPending when the cache did not answer (the invalidation is retried later)."""
    await _invalidate({user_generation_key(user_id): "bump"})


async def invalidate_users(user_ids: Iterable[int]) -> None:
    """``invalidate_user`` for many users, in one round trip (a drained outbox)."""
    keys = {user_generation_key(user_id): "bump" for user_id in user_ids}
    if keys:
        await _invalidate(keys)


async def invalidate_user_and_buds(user_id: int) -> None:
    """A user may no longer be shown anywhere (forgotten): their pages and every bud list, in one round trip."""
    await _invalidate({user_generation_key(user_id): "bump", BUDS_GENERATION: "bump"})


async def invalidate_buds() -> None:
    """Forget every user's bud lists (someone may no longer be shown as a bud); InvalidationPending as above."""
    await _invalidate({BUDS_GENERATION: "bump"})


async def invalidate_type(content_type: str) -> None:
    """Forget everything cached of one type: every user's pages, the lists, the public lists, the hidden set."""
    await _invalidate({type_generation_key(content_type): "bump"})


async def invalidate_hidden(content_type: str) -> bool:
    """After items of the type were hidden or un-hidden: the type's cached answers and every bud list (whose
    items in common may show them), in one round trip. False when the cache did not answer: the caller says
    so, since cached answers may then show the change late (the invalidation is recorded and retried)."""
    try:
        await _invalidate({type_generation_key(content_type): "bump", BUDS_GENERATION: "bump"})
    except InvalidationPending:
        return False
    return True


def all_dataset_keys() -> dict[str, str]:
    """What ``invalidate_all`` drops: the global generation (every page, list, bud list, public list and hidden
    set is valid only under it), and the keys that live outside the generations: the popular/trending pools and
    the catalog index of every type, fresh and last good."""
    from recommendations.domain import ContentType

    actions = {GLOBAL_GENERATION: "bump"}
    for content_type in ContentType:
        for name in ("popular", "trending"):
            actions[pool_key(name, content_type.value)] = "delete"
            actions[pool_last_good_key(name, content_type.value)] = "delete"
        actions[catalog_index_key(content_type.value)] = "delete"
        actions[catalog_index_last_good_key(content_type.value)] = "delete"
    return actions


async def invalidate_all() -> int:
    """Drop every cached recommendation dataset, on every worker (``all_dataset_keys``); the keys it touched.

    The last good pools and catalog index go too: they are what a graph outage would serve, and an operator who
    clears the cache wants nothing of before served. Raises InvalidationPending when the cache did not answer."""
    actions = all_dataset_keys()
    await _invalidate(actions)
    return len(actions)


# --- scored pools (popular, trending) while a type has no model, and the catalog index ---------------

PopularPool = list[tuple[str, float]]


def _decode_pool(raw: bytes | None) -> PopularPool | None:
    return None if raw is None else [(str(item), float(score)) for item, score in json.loads(raw)]


async def _fresh_and_last_good(fresh_key: str, last_good_key: str) -> tuple[bytes | None, bytes | None]:
    try:
        (fresh, last_good), _ = await cache.read([fresh_key, last_good_key])
    except CacheUnavailable as exc:
        log_cache_error(exc)
        return None, None
    return fresh, last_good


async def _store_fresh_and_last_good(fresh_key: str, last_good_key: str, raw: bytes, ttl_s: int) -> None:
    try:
        await cache.write({fresh_key: raw}, ttl_s=ttl_s)
        await cache.write({last_good_key: raw}, ttl_s=POPULAR_LAST_GOOD_TTL_S)
    except CacheUnavailable as exc:
        # The value was computed; not caching it only costs the next request a query.
        log_cache_error(exc)


async def cached_pool(name: PoolName, content_type: str) -> tuple[PopularPool | None, PopularPool | None]:
    """(fresh pool, last good pool) of a type; None where absent or when the cache is down."""
    fresh, last_good = await _fresh_and_last_good(pool_key(name, content_type), pool_last_good_key(name, content_type))
    return _decode_pool(fresh), _decode_pool(last_good)


async def store_pool(name: PoolName, content_type: str, pool: PopularPool) -> None:
    raw = json.dumps(pool).encode()
    await _store_fresh_and_last_good(
        pool_key(name, content_type), pool_last_good_key(name, content_type), raw, POPULAR_TTL_S
    )


async def cached_catalog_index(content_type: str) -> tuple[bytes | None, bytes | None]:
    """(fresh, last good) encoded catalog index of a type (``filtering.CatalogIndex.from_bytes``)."""
    return await _fresh_and_last_good(catalog_index_key(content_type), catalog_index_last_good_key(content_type))


async def store_catalog_index(content_type: str, raw: bytes) -> None:
    await _store_fresh_and_last_good(
        catalog_index_key(content_type), catalog_index_last_good_key(content_type), raw, CATALOG_INDEX_TTL_S
    )
