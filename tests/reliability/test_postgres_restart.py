"""PostgreSQL restarted during a burst of events from a client that retries with the same event ids.

Every event the server acknowledged with 2xx is stored exactly once, and the stored count equals the
number of distinct acknowledged ids. The database is a private instance (scripts/postgres.sh on its
own port and folder), so the restart disturbs nobody else.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import psycopg

from tests.reliability.support import (
    PostgresInstance,
    bearer,
    live_server,
    manage,
    process_env,
    record_figure,
    running,
)

BATCHES = 60
BATCH_SIZE = 20
MAX_ATTEMPTS = 200
MAX_SECONDS = 90.0
USER_ID = 7
DOWN_SECONDS = 12.0


def test_a_postgres_restart_during_an_event_burst_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    with running(PostgresInstance()) as pg:
        url = pg.url  # type: ignore[attr-defined]
        env = process_env(DEBUG="true", DATABASE_URL=url)
        migrated = manage("migrate", "--no-input", env=env, timeout=180)
        assert migrated.returncode == 0, migrated.stderr
        created = manage(
            "shell", "-c",
            f"from django.contrib.auth import get_user_model; get_user_model().objects.create_user(id={USER_ID}, "
            "username='burst')",
            env=env,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr

        acknowledged: set[str] = set()
        statuses: dict[int, int] = {}
        transport_errors = 0
        sent = 0
        restart_done = threading.Event()
        outage: list[float] = []
        batch_windows: list[tuple[float, float]] = []

        def restart() -> None:
            outage.append(time.monotonic())
            pg.stop()
            # Longer than the server's connection-pool timeout (10 s), so requests fail and are retried.
            time.sleep(DOWN_SECONDS)
            pg.start()
            outage.append(time.monotonic())
            restart_done.set()

        with (
            live_server(
                tmp_path, DATABASE_URL=url, RECOMMENDATIONS_SOURCE="database", MODEL_DIR=str(tmp_path / "models")
            ) as server,
            httpx.Client(base_url=server.url, headers=bearer(USER_ID), timeout=30) as http,
        ):
            deadline = time.monotonic() + MAX_SECONDS
            restarter = threading.Thread(target=restart)
            for batch in range(BATCHES):
                if batch == BATCHES // 4:
                    restarter.start()
                ids = [f"b{batch}-e{n}" for n in range(BATCH_SIZE)]
                events = [
                    {"client_event_id": i, "content_type": "anime", "item_id": str(1 + n), "event": "view"}
                    for n, i in enumerate(ids)
                ]
                body = {"events": events}
                sent += len(ids)
                batch_started = time.monotonic()
                for _ in range(MAX_ATTEMPTS):
                    try:
                        response = http.post("/v1/recommendations/events/", json=body)
                    except httpx.TransportError:
                        transport_errors += 1
                        time.sleep(0.1)
                        continue
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.is_success:
                        acknowledged.update(ids)
                        break
                    assert response.status_code >= 500, response.text  # only outages are retried
                    time.sleep(0.1)
                batch_windows.append((batch_started, time.monotonic()))
                assert time.monotonic() < deadline, "the burst did not finish in time"
            restarter.join(timeout=120)
            assert restart_done.is_set()
            server_log = server.log_text()

        with psycopg.connect(url.replace("postgres://", "postgresql://")) as db:
            rows = db.execute(
                "SELECT client_event_id, count(*) FROM analytics_recommendationevent WHERE user_id = %s "
                "GROUP BY client_event_id",
                [USER_ID],
            ).fetchall()
    stored: dict[str, int] = dict(rows)
    assert all(n == 1 for n in stored.values())
    assert acknowledged <= set(stored)
    assert len(stored) == len(acknowledged)
    assert "Internal Server Error" not in server_log, "an outage must be a 503, never a 500"
    failures = sum(n for status, n in statuses.items() if status >= 500)
    # Batches in flight while the database was down or restarting: without any, the test proves nothing.
    hit = sum(1 for start, end in batch_windows if start <= outage[1] and end >= outage[0])
    assert hit > 0, "the restart did not overlap the burst"
    record_figure(
        "postgres_restart_event_burst",
        events_sent=sent,
        events_acknowledged=len(acknowledged),
        events_stored=len(stored),
        duplicates_stored=sum(n - 1 for n in stored.values()),
        responses_5xx=failures,
        responses_by_status={str(k): v for k, v in sorted(statuses.items())},
        transport_errors=transport_errors,
        batches_during_restart=hit,
        restart_seconds=round(outage[1] - outage[0], 1),
        server_500s_logged=server_log.count("Internal Server Error"),
    )
