"""Production settings, real servers: the fast path answers as Django does, HSTS and all.

Two servers (scripts/serve.sh) on the same database and models, one with the fast path and one without
(``API_FAST_PATH=false``), each with its own Redis database so both compute their first page.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests.reliability.support import bearer, database_url, live_server

# The server's own headers differ between two servers by nature.
SERVER_HEADERS = {"date", "server"}


def answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(name, value) for name, value in response.headers.multi_items() if name not in SERVER_HEADERS]
    return response.status_code, headers, response.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings", "redis_settings")
def test_a_production_server_answers_the_same_with_and_without_the_fast_path(
    trained_model_dir: Path, tmp_path: Path
) -> None:
    common = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "RECOMMENDATIONS_SOURCE": "database",
        "MODEL_DIR": str(trained_model_dir),
    }
    redis_base = str(settings.REDIS_URL).rsplit("/", 1)[0]
    with live_server(tmp_path, API_FAST_PATH="false", REDIS_URL=f"{redis_base}/3", **common) as django_server, \
            live_server(tmp_path, REDIS_URL=f"{redis_base}/4", **common) as fast_server:  # fmt: skip
        headers = {**bearer(5), "X-Forwarded-Proto": "https"}
        path = "/v1/recommendations/anime/?limit=4"
        through_django = httpx.get(django_server.url + path, headers=headers)
        fresh, cached = (httpx.get(fast_server.url + path, headers=headers) for _ in range(2))

    assert answer(through_django) == answer(fresh)
    assert through_django.headers["Strict-Transport-Security"].startswith("max-age=")
    assert (fresh.headers["X-Cache"], cached.headers["X-Cache"]) == ("miss", "hit")
    assert cached.content == fresh.content


@pytest.mark.usefixtures("redis_settings")
def test_with_the_database_down_a_fresh_page_is_503_with_the_stable_code(
    trained_model_dir: Path, tmp_path: Path
) -> None:
    # Nothing listens on port 1: the built-in store cannot read the user's history.
    with live_server(
        tmp_path, DATABASE_URL="postgres://musicbud:musicbud@127.0.0.1:1/musicbud", RECOMMENDATIONS_SOURCE="database",
        MODEL_DIR=str(trained_model_dir), REDIS_URL=f"{str(settings.REDIS_URL).rsplit('/', 1)[0]}/5",
    ) as server:  # fmt: skip
        response = httpx.get(server.url + "/v1/recommendations/manga/?limit=3", headers=bearer(8), timeout=30)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
