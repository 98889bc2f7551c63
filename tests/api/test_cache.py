"""The recommendation cache: hits, misses, invalidations, and a cache outage."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from musicbud import cache
from recommendations import caching
from tests.api.conftest import SEEDED_USER_ID, Api

pytestmark = pytest.mark.usefixtures("seeded", "models")


async def test_the_first_request_misses_and_the_same_request_then_hits(api: Api) -> None:
    first = await api.get("/v1/recommendations/movies/", limit=5)
    second = await api.get("/v1/recommendations/movies/", limit=5)
    assert first.headers["X-Cache"] == "miss"
    assert second.headers["X-Cache"] == "hit"
    assert first.json() == second.json()


async def test_limit_and_offset_are_part_of_the_key(api: Api) -> None:
    await api.get("/v1/recommendations/movies/", limit=5)
    assert (await api.get("/v1/recommendations/movies/", limit=6)).headers["X-Cache"] == "miss"
    assert (await api.get("/v1/recommendations/movies/", limit=5, offset=5)).headers["X-Cache"] == "miss"


async def test_a_like_invalidates_the_users_cache_and_changes_the_list(api: Api) -> None:
    before = (await api.get("/v1/recommendations/movies/", limit=10)).json()["items"]
    liked = before[0]["item_id"]
    response = await api.post(
        "/v1/recommendations/events/",
        {
            "client_event_id": str(uuid.uuid4()),
            "content_type": "movies",
            "item_id": liked,
            "event": "like",
            "position": 0,
        },
    )
    assert response.status_code == 201, response.json()
    after = await api.get("/v1/recommendations/movies/", limit=10)
    assert after.headers["X-Cache"] == "miss"
    assert liked not in [item["item_id"] for item in after.json()["items"]]


async def test_per_type_and_global_invalidation_make_pages_miss(api: Api) -> None:
    await api.get("/v1/recommendations/anime/", limit=5)
    await caching.invalidate_type("anime")
    assert (await api.get("/v1/recommendations/anime/", limit=5)).headers["X-Cache"] == "miss"
    assert (await api.get("/v1/recommendations/anime/", limit=5)).headers["X-Cache"] == "hit"
    await caching.invalidate_all()
    assert (await api.get("/v1/recommendations/anime/", limit=5)).headers["X-Cache"] == "miss"


async def test_invalidating_one_user_leaves_other_users_cached(api: Api) -> None:
    await api.get("/v1/recommendations/manga/", limit=5)
    await caching.invalidate_user(SEEDED_USER_ID + 1)
    assert (await api.get("/v1/recommendations/manga/", limit=5)).headers["X-Cache"] == "hit"


async def test_a_new_model_version_is_a_miss(api: Api, settings: Any, tmp_path: Any) -> None:
    import shutil

    from recommendations.data.seeding import generate_content
    from recommendations.domain import ContentType
    from recommendations.engine import EngineConfig, save_artifact, train_model
    from tests.api.conftest import API_SPEC, FAST_ENGINE

    model_dir = tmp_path / "models"
    shutil.copytree(settings.MODEL_DIR, model_dir)
    settings.MODEL_DIR = model_dir
    first = await api.get("/v1/recommendations/movies/", limit=5)
    content = generate_content(API_SPEC, ContentType.MOVIES)
    save_artifact(
        train_model(content.interactions, content.catalog, EngineConfig.from_overrides(FAST_ENGINE)),
        model_dir,
        "movies",
    )
    second = await api.get("/v1/recommendations/movies/", limit=5)
    assert second.headers["X-Cache"] == "miss"
    assert second.json()["model_version"] != first.json()["model_version"]


@pytest.mark.usefixtures("redis_settings")
async def test_pages_are_stored_in_redis_under_a_hashed_key(api: Api, settings: Any) -> None:
    import redis

    await api.get("/v1/recommendations/movies/", limit=5)
    keys: list[bytes] = redis.Redis.from_url(settings.REDIS_URL).keys(cache.KEY_PREFIX + "recs:page:*")  # type: ignore[assignment]
    assert len(keys) == 1
    # The key is a hash of everything that shapes the answer, not the user id in clear.
    assert len(keys[0].split(b"recs:page:")[1]) == 40


async def test_with_redis_down_requests_are_still_served(
    api: Api, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A real unreachable Redis (nothing listens on port 1), not a mock.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    cache._last_error_logged_at = None
    first = await api.get("/v1/recommendations/movies/", limit=5)
    second = await api.get("/v1/recommendations/movies/", limit=5)
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Cache"] == second.headers["X-Cache"] == "miss"
    assert len(first.json()["items"]) == 5
    # Logged once per interval, not once per request.
    assert sum("cache unavailable" in r.message for r in caplog.records) == 1
