"""Redis stopped: requests are still served (computed, not cached); the error is logged once per interval."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from tests.api.conftest import make_user
from tests.reliability.support import RedisInstance, bearer, database_url, live_server, record_figure, running

REQUESTS_DURING_OUTAGE = 60
LOG_LINE = "cache unavailable, serving without it"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings")
def test_a_stopped_redis_costs_the_cache_only_and_is_logged_once(trained_model_dir: Path, tmp_path: Path) -> None:
    make_user(5)
    with running(RedisInstance()) as redis, live_server(
        tmp_path, DATABASE_URL=database_url(connection.settings_dict), RECOMMENDATIONS_SOURCE="database",
        MODEL_DIR=str(trained_model_dir), REDIS_URL=redis.url,  # type: ignore[attr-defined]
    ) as server, httpx.Client(base_url=server.url, headers=bearer(5), timeout=10) as http:  # fmt: skip
        url = "/v1/recommendations/movies/"
        assert [http.get(url).headers["X-Cache"] for _ in range(2)] == ["miss", "hit"]
        assert http.get("/readyz").status_code == 200

        redis.stop()
        started = time.monotonic()
        outage = [http.get(url, params={"offset": n % 10}) for n in range(REQUESTS_DURING_OUTAGE)]
        outage_seconds = time.monotonic() - started
        ready = http.get("/readyz")
        statuses = [response.status_code for response in outage]
        assert statuses == [200] * REQUESTS_DURING_OUTAGE
        assert {response.headers["X-Cache"] for response in outage} == {"miss"}
        assert all(response.json()["items"] for response in outage)
        assert ready.status_code == 503
        assert ready.json()["checks"]["cache"].startswith("error")
        logged = server.log_text().count(LOG_LINE)
        assert logged == 1, server.log_text()[-3000:]

        redis.start()
        recovered = [http.get(url).headers["X-Cache"] for _ in range(2)]
        assert recovered == ["miss", "hit"]
        assert http.get("/readyz").status_code == 200

    record_figure(
        "redis_outage",
        requests_during_outage=REQUESTS_DURING_OUTAGE,
        served_200=statuses.count(200),
        errors=REQUESTS_DURING_OUTAGE - statuses.count(200),
        cache_error_log_lines=logged,
        mean_ms=round(1000 * outage_seconds / REQUESTS_DURING_OUTAGE, 1),
        recovered_cache_hit=recovered[-1] == "hit",
    )
