"""Redis stopped: staff routes fail closed (the deny list cannot be read); ordinary reads stay open."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.db import connection

from tests.api.conftest import make_user
from tests.reliability.support import RedisInstance, bearer, database_url, live_server, running

RUN = "/v1/recommendations/train/models/999999/"  # a staff route (IsAdminUser): no such run, 404 when open
PAGE = "/v1/recommendations/movies/"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings")
def test_staff_routes_answer_503_while_the_deny_list_cannot_be_read(trained_model_dir: Path, tmp_path: Path) -> None:
    make_user(5)
    make_user(6, staff=True)
    with running(RedisInstance()) as redis, live_server(
        tmp_path, DATABASE_URL=database_url(connection.settings_dict), RECOMMENDATIONS_SOURCE="database",
        MODEL_DIR=str(trained_model_dir), REDIS_URL=redis.url,  # type: ignore[attr-defined]
    ) as server, httpx.Client(base_url=server.url, timeout=10) as http:  # fmt: skip
        staff, user = bearer(6, staff=True), bearer(5)
        assert http.get(RUN, headers=staff).status_code == 404

        redis.stop()
        closed = http.get(RUN, headers=staff)
        not_staff = http.get(RUN, headers=user)
        reads = [http.get(PAGE, headers=user).status_code for _ in range(3)]

        assert closed.status_code == 503
        assert closed.json()["error"]["code"] == "deny_list_unavailable"
        assert not_staff.status_code == 403  # the permission still says no first
        assert reads == [200, 200, 200]  # ordinary reads stay open (documented)

        redis.start()
        assert http.get(RUN, headers=staff).status_code == 404
    assert "Traceback" not in server.log_text()
