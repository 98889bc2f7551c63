"""Per-user throttling with 429 and Retry-After."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.usefixtures("seeded", "no_models")


def low_rate(settings: Any, rate: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": rate}}


async def test_a_burst_past_the_rate_gets_429_with_retry_after(api: Api, settings: Any) -> None:
    low_rate(settings, "3/minute")
    statuses = [(await api.get("/v1/recommendations/movies/", limit=1)).status_code for _ in range(3)]
    blocked = await api.get("/v1/recommendations/movies/", limit=1)
    assert statuses == [200, 200, 200]
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "throttled"
    assert 0 < int(blocked.headers["Retry-After"]) <= 60


async def test_the_limit_is_per_user(api: Api, staff_api: Api, settings: Any) -> None:
    low_rate(settings, "2/minute")
    for _ in range(2):
        assert (await api.get("/v1/recommendations/status/")).status_code == 200
    assert (await api.get("/v1/recommendations/status/")).status_code == 429
    assert (await staff_api.get("/v1/recommendations/status/")).status_code == 200
