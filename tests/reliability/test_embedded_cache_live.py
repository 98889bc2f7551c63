"""The embedded default cache (no Redis) under a running server: shared by its workers and every command."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.db import connection

from tests.api.conftest import SEEDED_USER_ID
from tests.reliability.support import bearer, database_url, live_server, manage

REQUESTS = 8  # a new connection each: granian hands them to either worker


def pages(server_url: str) -> list[httpx.Response]:
    responses = []
    for _ in range(REQUESTS):
        with httpx.Client(base_url=server_url, headers=bearer(SEEDED_USER_ID), timeout=10) as http:
            response = http.get("/v1/recommendations/movies/", params={"limit": 10})
            assert response.status_code == 200, response.text
            responses.append(response)
    return responses


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings", "seeded")
def test_a_hide_from_the_command_line_reaches_both_workers_of_a_server_without_redis(
    trained_model_dir: Path, tmp_path: Path
) -> None:
    with live_server(
        tmp_path, SERVE_WORKERS="2", DATABASE_URL=database_url(connection.settings_dict),
        RECOMMENDATIONS_SOURCE="database", MODEL_DIR=str(trained_model_dir), EMBEDDED_CACHE="file",
        CACHE_FILE=str(tmp_path / "cache.sqlite3"),
    ) as server:  # fmt: skip
        before = pages(server.url)
        # One worker computed the page; every later answer, from either worker, is the shared copy.
        assert [response.headers["X-Cache"] for response in before] == ["miss"] + ["hit"] * (REQUESTS - 1)
        top = before[0].json()["items"][0]["item_id"]
        ids = tmp_path / "hide.txt"
        ids.write_text(f"{top}\n")

        hidden = manage("hide_items", "--type", "movies", "--file", str(ids), env=server.env)

        assert hidden.returncode == 0, hidden.stderr
        assert "warning" not in hidden.stderr
        after = pages(server.url)
        assert after[0].headers["X-Cache"] == "miss"
        for response in after:
            assert top not in [item["item_id"] for item in response.json()["items"]]
    assert "Traceback" not in server.log_text()
