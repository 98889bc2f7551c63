"""Two separately started servers (two scripts/serve.sh on two ports, 2 workers each) behind one "load balancer".

They share what a multi-host deployment shares: PostgreSQL (the test database), Redis, Neo4j (a graph
of its own under a label prefix) and MODEL_DIR (one folder: the shared volume of docs/operations.md).
Whatever one server does, the other must see: a like's invalidation, a published model, a training
lock, and events posted to both are stored once.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

from analytics.models import RecommendationEvent
from tests.api.conftest import FAST_ENGINE, SEEDED_USER_ID, make_user
from tests.api.test_neo4j_source import graph_source
from tests.reliability.support import LiveServer, WorkerProcess, bearer, database_url, record_figure

__all__ = ["graph_source"]

STAFF_ID = 900
# LightFM with many epochs: a training of one type that holds its lock for seconds, so the other
# server's request surely comes while it runs (400 epochs took 0.36 s here; 6,000 held the lock
# 11.9 s with both servers up; selection fits twice).
SLOW_ENGINE = {**FAST_ENGINE, "epochs": 3000}
POLL_S = 60.0


@pytest.fixture
def two_servers(
    graph_source: None, trained_model_dir: Path, tmp_path: Path, settings: Any
) -> Iterator[list[LiveServer]]:
    model_dir = tmp_path / "models"
    shutil.copytree(trained_model_dir, model_dir)
    make_user(SEEDED_USER_ID)
    make_user(STAFF_ID, staff=True)
    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": os.environ["REDIS_URL"],
        "RECOMMENDATIONS_SOURCE": "neo4j",
        "NEO4J_URI": os.environ["NEO4J_URI"],
        "NEO4J_USER": os.environ.get("NEO4J_USER", "neo4j"),
        "NEO4J_PASSWORD": os.environ["NEO4J_PASSWORD"],
        "NEO4J_LABEL_PREFIX": settings.NEO4J_LABEL_PREFIX,
        "MODEL_DIR": str(model_dir),
        "RECOMMENDATIONS_ENGINE": json.dumps(SLOW_ENGINE),
    }
    servers = [LiveServer(tmp_path, SERVE_WORKERS="2", **env) for _ in range(2)]
    worker = WorkerProcess(tmp_path, **env)  # one worker serves both servers: the queue is in the database
    starts = [server.start for server in servers] + [worker.start]
    starting = [threading.Thread(target=start) for start in starts]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    try:
        yield servers
    finally:
        worker.stop()
        for server in servers:
            server.stop()


def client(server: LiveServer, user_id: int, *, staff: bool = False) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=bearer(user_id, staff=staff), timeout=30)


def movies_page(http: httpx.Client) -> httpx.Response:
    response = http.get("/v1/recommendations/movies/", params={"limit": 5})
    assert response.status_code == 200, response.text
    return response


def wait_for_run(http: httpx.Client, run_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + POLL_S
    while time.monotonic() < deadline:
        run: dict[str, Any] = http.get(f"/v1/recommendations/train/models/{run_id}/").json()
        if run["status"] != "running":
            return run
        time.sleep(0.3)
    raise AssertionError(f"training run {run_id} still running after {POLL_S}s")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings", "redis_settings")
def test_two_servers_share_invalidation_models_locks_and_events(two_servers: list[LiveServer]) -> None:
    a, b = two_servers
    user_a, user_b = client(a, SEEDED_USER_ID), client(b, SEEDED_USER_ID)
    staff_a, staff_b = client(a, STAFF_ID, staff=True), client(b, STAFF_ID, staff=True)

    # A like through A invalidates the user's pages on B.
    movies_page(user_b)
    cached = movies_page(user_b)
    assert cached.headers["X-Cache"] == "hit"
    liked = cached.json()["items"][0]["item_id"]
    like = {"client_event_id": str(uuid.uuid4()), "content_type": "movies", "item_id": liked, "event": "like"}
    assert user_a.post("/v1/recommendations/events/", json=like).status_code == 201
    # The worker applies the like (within its poll interval) and drops the user's pages, on B too.
    deadline = time.monotonic() + POLL_S
    after = movies_page(user_b)
    while liked in [item["item_id"] for item in after.json()["items"]]:
        assert time.monotonic() < deadline, f"the like was not applied within {POLL_S}s"
        time.sleep(0.2)
        after = movies_page(user_b)

    # A training started through A holds the lock for B too; its model is then served by both.
    before = after.json()["model_version"]
    started = staff_a.post("/v1/recommendations/train/models/", json={"content_types": ["movies"]})
    assert started.status_code == 202, started.text
    refused = staff_b.post("/v1/recommendations/train/models/", json={"content_types": ["movies"]})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "training_in_progress"
    run = wait_for_run(staff_b, started.json()["runs"][0]["id"])
    assert run["status"] == "succeeded", run
    versions = {movies_page(http).json()["model_version"] for http in (user_a, user_b)}
    assert versions == {run["model_version"]} != {before}

    # The same batch posted to both at once, and a batch of its own to each: every event stored once.
    shown = after.json()["items"][0]["item_id"]
    shared = [view_event(shown) for _ in range(200)]
    own = {server.port: [view_event(shown) for _ in range(50)] for server in two_servers}
    answers: list[dict[str, int]] = []

    def post(http: httpx.Client, port: int) -> None:
        for batch in (shared, own[port]):
            response = http.post("/v1/recommendations/events/", json={"events": batch})
            assert response.status_code in (200, 201), response.text
            answers.append(response.json())

    threads = [threading.Thread(target=post, args=(http, s.port)) for http, s in ((user_a, a), (user_b, b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {e["client_event_id"] for e in shared} | {e["client_event_id"] for batch in own.values() for e in batch}
    stored = list(RecommendationEvent.objects.filter(event="view").values_list("client_event_id", flat=True))
    assert sorted(stored) == sorted(expected)
    assert sum(answer["stored"] for answer in answers) == len(expected)
    assert sum(answer["duplicates"] for answer in answers) == len(shared)
    record_figure("two_servers", servers=2, workers_each=2, events_posted=2 * len(shared) + 100,
                  events_stored=len(stored), training_s=run["duration_s"])  # fmt: skip


def view_event(item_id: str) -> dict[str, Any]:
    return {"client_event_id": str(uuid.uuid4()), "content_type": "movies", "item_id": item_id, "event": "view"}
