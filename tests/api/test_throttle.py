"""Per-user throttling with 429 and Retry-After."""

from __future__ import annotations

import pytest

from recommendations.api.throttles import PerUserThrottle
from tests.api.conftest import Api

pytestmark = pytest.mark.usefixtures("seeded", "no_models")


async def test_a_burst_past_the_rate_gets_429_with_retry_after(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # DRF reads the rates into the class at import; a low rate for this test only.
    monkeypatch.setattr(PerUserThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    statuses = [(await api.get("/v1/recommendations/movies/", limit=1)).status_code for _ in range(3)]
    blocked = await api.get("/v1/recommendations/movies/", limit=1)
    assert statuses == [200, 200, 200]
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "throttled"
    assert 0 < int(blocked["Retry-After"]) <= 60


async def test_the_limit_is_per_user(api: Api, staff_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PerUserThrottle, "THROTTLE_RATES", {"user": "2/minute"})
    for _ in range(2):
        assert (await api.get("/v1/recommendations/status/")).status_code == 200
    assert (await api.get("/v1/recommendations/status/")).status_code == 429
    assert (await staff_api.get("/v1/recommendations/status/")).status_code == 200
