"""Cache invalidations that fail: typed, recorded, retried; what invalidate_all drops; generation keys' TTL."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async

from musicbud import cache
from recommendations import caching
from recommendations.models import PendingInvalidation
from tests.api.conftest import SEEDED_USER_ID, Api

pytestmark = pytest.mark.usefixtures("seeded", "models")
ME = "/v1/recommendations/me/"
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: a real unreachable cache, not a mock


def redis_client(settings: Any) -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


async def pending_keys() -> set[str]:
    return {row.key async for row in PendingInvalidation.objects.all()}


async def test_a_failed_invalidation_is_a_typed_error_recorded_and_retried(api: Api, settings: Any) -> None:
    await api.get("/v1/recommendations/movies/", limit=5)
    live = settings.REDIS_URL
    settings.REDIS_URL = DEAD_REDIS

    with pytest.raises(caching.InvalidationPending) as raised:
        await caching.invalidate_user(SEEDED_USER_ID)

    assert raised.value.code == "invalidation_pending"
    assert raised.value.recorded
    assert raised.value.pending == 1
    assert await pending_keys() == {caching.user_generation_key(SEEDED_USER_ID)}
    settings.REDIS_URL = live
    assert (await api.get("/v1/recommendations/movies/", limit=5)).headers["X-Cache"] == "hit"  # still stale

    assert await sync_to_async(caching.retry_pending_invalidations)() == 0

    assert await pending_keys() == set()
    assert (await api.get("/v1/recommendations/movies/", limit=5)).headers["X-Cache"] == "miss"


async def test_a_retry_while_the_cache_is_still_down_keeps_everything_pending(settings: Any) -> None:
    settings.REDIS_URL = DEAD_REDIS
    with pytest.raises(caching.InvalidationPending):
        await caching.invalidate_buds()
    with pytest.raises(caching.InvalidationPending) as raised:
        await caching.invalidate_type("anime")  # retries the first one, fails, records both

    assert raised.value.pending == 2
    assert await sync_to_async(caching.retry_pending_invalidations)() == 2


async def test_the_next_invalidation_catches_up_with_what_this_process_left_pending(api: Api, settings: Any) -> None:
    await api.get("/v1/recommendations/anime/", limit=5)
    live = settings.REDIS_URL
    settings.REDIS_URL = DEAD_REDIS
    with pytest.raises(caching.InvalidationPending):
        await caching.invalidate_type("anime")
    settings.REDIS_URL = live

    await caching.invalidate_buds()  # something else, later

    assert await pending_keys() == set()
    assert (await api.get("/v1/recommendations/anime/", limit=5)).headers["X-Cache"] == "miss"


async def test_forget_me_with_the_cache_down_says_what_is_still_pending(api: Api, settings: Any) -> None:
    settings.REDIS_URL = DEAD_REDIS

    response = await api.delete(ME)

    assert response.status_code == 200, response.json()
    assert response.json()["cache"] == "pending"
    assert response.json()["pending_invalidations"] == 2
    assert await pending_keys() == {caching.user_generation_key(SEEDED_USER_ID), caching.BUDS_GENERATION}


async def test_invalidate_all_drops_pages_pools_and_the_catalog_index(api: Api, settings: Any) -> None:
    await api.get("/v1/recommendations/movies/", limit=5)
    await caching.store_pool("popular", "manga", [("800000001", 3.0)])
    await caching.store_pool("trending", "anime", [("800000002", 2.0)])
    await caching.store_catalog_index("movies", b"index")

    await caching.invalidate_all()

    assert await caching.cached_pool("popular", "manga") == (None, None)
    assert await caching.cached_pool("trending", "anime") == (None, None)
    assert await caching.cached_catalog_index("movies") == (None, None)
    assert (await api.get("/v1/recommendations/movies/", limit=5)).headers["X-Cache"] == "miss"


async def test_a_users_generation_expires_after_any_page_it_covers(api: Api, settings: Any) -> None:
    client = redis_client(settings)
    key = cache.KEY_PREFIX + caching.user_generation_key(SEEDED_USER_ID)
    await api.get("/v1/recommendations/movies/", limit=5)  # creates the generation
    created_ttl = client.ttl(key)
    await caching.invalidate_user(SEEDED_USER_ID)  # writes a new value
    bumped_ttl = client.ttl(key)
    page_ttl = int(settings.RECOMMENDATIONS_CACHE_TTL)

    assert page_ttl < created_ttl <= caching.user_generation_ttl_s()
    assert page_ttl < bumped_ttl <= caching.user_generation_ttl_s()
    assert client.ttl(cache.KEY_PREFIX + caching.GLOBAL_GENERATION) == -1  # the shared ones never expire
