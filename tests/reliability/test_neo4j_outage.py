"""Neo4j stopped while the server runs with RECOMMENDATIONS_SOURCE=neo4j, then started again.

While it is down: recommendations are served from the loaded model and the cached popularity (the
all-types call leaves out only the type that has neither), /readyz answers 503 naming neo4j, and
training fails cleanly with a failed training log. When it is back, everything recovers without
restarting the server: readiness, training, and the new model.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.test import override_settings

from musicbud import graph
from recommendations.data.loading import write_dataset
from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from recommendations.models import TrainingLog
from tests.api.conftest import API_SPEC, FAST_ENGINE, SEEDED_USER_ID, make_user
from tests.reliability.support import (
    NEO4J_TEST_PASSWORD,
    Neo4jInstance,
    bearer,
    database_url,
    live_server,
    live_worker,
    manage,
    process_env,
    record_figure,
)

# A JVM start takes up to a minute here: the instance boots in the background from collection on
# (tests/reliability/conftest.py), while the other tests run.
_instance = Neo4jInstance()
_boot = threading.Thread(target=_instance.start, daemon=True)


def boot_in_background() -> None:
    if not _boot.is_alive() and not _boot.ident:
        _boot.start()


@pytest.fixture(scope="module")
def neo4j_instance() -> Iterator[Neo4jInstance]:
    boot_in_background()
    _boot.join(timeout=300)
    try:
        yield _instance
    finally:
        try:
            _instance.stop()
        finally:
            _instance.remove()


def fill_private_graph(instance: Neo4jInstance, fill: Callable[[Neo4jInteractionStore], object]) -> dict[str, str]:
    """Write into the private instance (its schema first); returns the settings that point at it."""
    graph_settings = {"NEO4J_URI": instance.uri, "NEO4J_PASSWORD": NEO4J_TEST_PASSWORD,
                      "RECOMMENDATIONS_SOURCE": "neo4j"}  # fmt: skip
    graph.close_sync_driver()
    with override_settings(**graph_settings):
        store = Neo4jInteractionStore()
        store.ensure_schema()
        fill(store)
        graph.close_sync_driver()
    return graph_settings


def wait_ready(http: httpx.Client, timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if http.get("/readyz").status_code == 200:
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError("not ready again after Neo4j came back")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings")
def test_a_stopped_neo4j_degrades_gracefully_and_recovers_without_a_restart(
    neo4j_instance: Neo4jInstance, trained_model_dir: Path, tmp_path: Path
) -> None:
    def seeded(store: Neo4jInteractionStore) -> None:
        for ct in (ContentType.MOVIES, ContentType.ANIME):
            write_dataset(store, generate_content(API_SPEC, ct), progress=False)

    graph_settings = fill_private_graph(neo4j_instance, seeded)
    # Movies have a model; anime has none, so it is served from the (cached) popularity pool.
    model_dir = tmp_path / "models"
    shutil.copytree(trained_model_dir / "movies", model_dir / "movies")
    make_user(SEEDED_USER_ID)
    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "MODEL_DIR": str(model_dir),
        "NEO4J_CONNECTION_TIMEOUT": "1",
        "RECOMMENDATIONS_ENGINE": json.dumps(FAST_ENGINE),
        **graph_settings,
    }
    train_env = process_env(DEBUG="true", **env)

    with (
        live_server(tmp_path, **env) as server,
        httpx.Client(base_url=server.url, headers=bearer(SEEDED_USER_ID), timeout=30) as http,
    ):
        assert http.get("/readyz").json()["checks"]["neo4j"] == "ok"
        before = http.get("/v1/recommendations/movies/").json()
        assert before["source"] == "model"
        assert http.get("/v1/recommendations/anime/").json()["items"]

        neo4j_instance.stop()
        ready = http.get("/readyz")
        outage = [http.get("/v1/recommendations/movies/", params={"offset": n}) for n in range(1, 11)]
        outage += [http.get("/v1/recommendations/anime/", params={"limit": 5 + n}) for n in range(5)]
        statuses = [response.status_code for response in outage]
        assert ready.status_code == 503
        assert ready.json()["checks"]["neo4j"].startswith("error")
        assert statuses == [200] * len(outage), [r.text for r in outage if r.status_code != 200]
        assert all(response.json()["items"] for response in outage)
        assert outage[0].json()["model_version"] == before["model_version"]
        # Manga has neither a model nor cached popularity: only its page is missing from the all-types call.
        every_type = http.get("/v1/recommendations/", params={"limit": 3})
        assert every_type.status_code == 200, every_type.text
        assert every_type.json()["movies"]["source"] == "model"
        assert every_type.json()["anime"]["items"]
        assert every_type.json()["manga"] is None
        assert every_type.json()["errors"]["manga"]["code"] == "graph_unavailable"
        assert set(every_type.json()["errors"]) == {"manga"}

        failed = manage("train_recommendations", "--type", "movies", "--force", env=train_env)
        assert failed.returncode != 0
        assert "graph_unavailable" in failed.stderr
        log = TrainingLog.objects.get()
        assert log.status == "failed"
        assert "GraphUnavailable" in log.error

        restarted = time.monotonic()
        neo4j_instance.start()
        recovery_s = wait_ready(http)
        trained = manage("train_recommendations", "--type", "movies", "--force", env=train_env)
        assert trained.returncode == 0, trained.stderr
        new_version = TrainingLog.objects.get(status="succeeded").model_version
        after = http.get("/v1/recommendations/movies/", params={"limit": 3}).json()
        assert after["model_version"] == new_version != before["model_version"]
        assert after["items"][0]["title"]  # the catalog answers again
        recovered_after_s = time.monotonic() - restarted

    record_figure(
        "neo4j_outage",
        requests_during_outage=len(outage),
        served_200=statuses.count(200),
        errors=len(outage) - statuses.count(200),
        readyz_during_outage=ready.status_code,
        training_during_outage=log.status,
        ready_after_restart_s=round(recovery_s, 1),
        new_model_served_without_restart=True,
        neo4j_restart_to_new_model_s=round(recovered_after_s, 1),
    )


# Not in the seeded data: everything this user has in the graph comes from the events below.
OUTBOX_USER = 4242


def _graph_rows(uri: str, user_id: int) -> set[tuple[str, str, float | None]]:
    """(relationship type, item, value) of one user in the private graph, read with a driver of its own."""
    import neo4j

    with neo4j.GraphDatabase.driver(uri, auth=("neo4j", NEO4J_TEST_PASSWORD)) as driver:
        records = driver.execute_query(
            "MATCH (:User {user_id: $user_id})-[r]->(m:Movie) RETURN type(r) AS rel, m.imdb_id AS item, r.value AS v",
            {"user_id": user_id},
        ).records
    return {(record["rel"], record["item"], record["v"]) for record in records}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings")
def test_feedback_accepted_during_an_outage_reaches_the_restarted_graph_without_any_retry(
    neo4j_instance: Neo4jInstance, tmp_path: Path
) -> None:
    from analytics.models import RecommendationEvent
    from recommendations.domain import CatalogItem
    from recommendations.models import PendingInteraction

    films = [CatalogItem(f"tt700000{n}", f"Film {n}", ("Drama",), 2001) for n in range(3)]
    graph_settings = fill_private_graph(neo4j_instance, lambda store: store.upsert_catalog("movies", films))
    make_user(OUTBOX_USER)
    env = {
        "DATABASE_URL": database_url(connection.settings_dict),
        "MODEL_DIR": str(tmp_path / "models"),
        "NEO4J_CONNECTION_TIMEOUT": "1",
        "OUTBOX_DRAIN_INTERVAL_S": "1",
        **graph_settings,
    }

    def event(kind: str, item: int, **fields: object) -> dict[str, object]:
        return {"client_event_id": uuid.uuid4().hex, "content_type": "movies", "item_id": f"tt700000{item}",
                "event": kind, **fields}  # fmt: skip

    with (
        live_server(tmp_path, **env) as server,
        live_worker(tmp_path, **env),
        httpx.Client(base_url=server.url, headers=bearer(OUTBOX_USER), timeout=30) as http,
    ):
        neo4j_instance.stop()
        accepted = [
            http.post("/v1/recommendations/events/", json={"events": [event("like", 0), event("watchlist_add", 1)]}),
            http.post("/v1/recommendations/events/", json={"events": [event("like", 2), event("unlike", 0)]}),
            http.post("/v1/recommendations/events/", json=event("rated", 1, value=4)),
        ]
        assert [r.status_code for r in accepted] == [201, 201, 201], [r.text for r in accepted]
        assert [r.json()["pending"] for r in accepted] == [2, 4, 5]
        assert PendingInteraction.objects.count() == 5

        restarted = time.monotonic()
        neo4j_instance.start()
        # No client retries and no command: the worker's drains (its tasks, its periodic pass) apply the queue.
        deadline = time.monotonic() + 120
        while PendingInteraction.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        applied_after_s = time.monotonic() - restarted
        assert not PendingInteraction.objects.exists(), server.log_text()[-3000:]

    # In order (the like of film 0 was taken back) and once each; every event stored once.
    assert _graph_rows(neo4j_instance.uri, OUTBOX_USER) == {
        ("WATCHLISTED", "tt7000001", None),
        ("LIKED", "tt7000002", None),
        ("RATED", "tt7000001", 4.0),
    }
    assert RecommendationEvent.objects.count() == 5
    record_figure(
        "outbox_neo4j_restart",
        events_accepted_during_outage=5,
        changes_pending_at_restart=5,
        applied_without_retry=True,
        neo4j_restart_to_applied_s=round(applied_after_s, 1),
    )
