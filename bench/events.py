"""Events ingestion and daily aggregation, end to end against real PostgreSQL.

Run: ``.venv/bin/python bench/events.py [--seconds 10] [--concurrency 8] [--batch 100] [--rows 5000000]``

1. Starts PostgreSQL and Redis (scripts/services.sh), creates its own database (dropped at the end).
2. Serves the project with scripts/serve.sh (granian, DEBUG=false) on 127.0.0.1, creates a user and gets a JWT.
3. A separate load process posts batches to POST /v1/recommendations/events/ from threads for a bounded
   time; throughput = rows actually stored in PostgreSQL / load duration.
4. Inserts ``--rows`` events for one day with INSERT ... SELECT generate_series and times
   ``daily_metrics_aggregate`` (the function the cron command runs) on that day.

Targets: >= 2,000 events/s ingested; aggregation of 5M events <= 30 s. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on sys.path, where bench/http.py would shadow the standard library's
# http package (httpx, urllib); the repository root replaces it.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
BENCH_DB = "musicbud_bench_events"
BENCH_USERS = 10_000
PASSWORD = "bench-password-" + "x" * 16
DAY = date(2026, 1, 15)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- load process ----------------------------------------------------------------------------------


def load(url: str, token: str, seconds: float, concurrency: int, batch: int) -> None:
    """Post batches from ``concurrency`` threads until ``seconds`` pass; print what the API acknowledged."""
    import httpx

    kinds = ["view"] * 7 + ["click", "click", "skip"]
    lock = threading.Lock()
    totals = {"requests": 0, "stored": 0, "errors": 0}
    deadline = time.monotonic() + seconds

    def worker() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=30, headers=headers) as client:
            while time.monotonic() < deadline:
                prefix = uuid.uuid4().hex[:16]
                events = [
                    {
                        "client_event_id": f"{prefix}-{i}",
                        "content_type": ("movies", "manga", "anime")[i % 3],
                        # Catalog id formats: IMDb for movies, MyAnimeList numbers for manga and anime.
                        "item_id": f"tt{1000 + i:07d}" if i % 3 == 0 else str(1000 + i),
                        "event": kinds[i % len(kinds)],
                        "position": i % 20,
                    }
                    for i in range(batch)
                ]
                response = client.post(url, json={"events": events})
                with lock:
                    totals["requests"] += 1
                    if response.status_code == 201:
                        totals["stored"] += response.json()["stored"]
                    else:
                        totals["errors"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({**totals, "elapsed_s": time.monotonic() - started}))


# --- orchestration ---------------------------------------------------------------------------------


def services_env() -> dict[str, str]:
    subprocess.run(
        ["bash", str(ROOT / "scripts/services.sh"), "up", "postgres", "redis"], check=True, stdout=subprocess.DEVNULL
    )
    env: dict[str, str] = {}
    for line in (ROOT / ".services/services.env").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line.removeprefix("export ").split("=", 1)
            env[key] = value
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(admin_url: str, *, create: bool, name: str = BENCH_DB) -> None:
    # Through importlib: the project pins no psycopg2 type stubs, and this is the only direct use.
    psycopg2: Any = importlib.import_module("psycopg2")
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if create:
            cursor.execute(f"CREATE DATABASE {name}")
    connection.close()


def wait_for(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def ingest(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from django.contrib.auth import get_user_model

    from analytics.models import RecommendationEvent

    get_user_model().objects.create_user(username="bench", password=PASSWORD)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        ["bash", str(ROOT / "scripts/serve.sh"), "127.0.0.1", str(port), str(args.workers)], cwd=ROOT, env=env
    )
    try:
        wait_for(f"{base}/healthz")
        token = httpx.post(f"{base}/v1/auth/token/", json={"username": "bench", "password": PASSWORD}).json()["access"]
        log(f"load: {args.concurrency} threads x batches of {args.batch} for {args.seconds}s, {args.workers} workers")
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                "load",
                f"{base}/v1/recommendations/events/",
                token,
                str(args.seconds),
                str(args.concurrency),
                str(args.batch),
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        acknowledged = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = RecommendationEvent.objects.count()
    log(f"load: {acknowledged}; rows in PostgreSQL: {stored}")
    if stored != acknowledged["stored"]:
        raise RuntimeError(f"the API acknowledged {acknowledged['stored']} events but {stored} rows are stored")
    return {
        "ingested": stored,
        "events_per_s": round(stored / acknowledged["elapsed_s"], 1),
        "http_errors": acknowledged["errors"],
        "requests": acknowledged["requests"],
    }


def drop_secondary_indexes_and_constraints(cursor: Any, table: str) -> list[str]:
    """Drop every index and constraint of ``table`` but its primary key; return the SQL that restores them."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype <> 'p'",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
        " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cursor.fetchall()
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints
    ]


def aggregate(rows: int) -> dict[str, Any]:
    from django.db import connection

    from analytics.models import DailyMetric, RecommendationEvent
    from analytics.services import daily_metrics_aggregate

    RecommendationEvent.objects.all().delete()
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined) SELECT '!', false, 'bench-' || i, '', '', '', false, true, now()"
            " FROM generate_series(1, %s) AS i",
            [BENCH_USERS],
        )
        cursor.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'bench-%%'")
        (first_user,) = cursor.fetchone()
        began = time.monotonic()
        # A bulk load, not the API path: indexes and constraints are rebuilt once after the rows are in
        # (sorting 5M keys once is minutes faster than 5M random B-tree inserts and FK checks).
        deferred = drop_secondary_indexes_and_constraints(cursor, RecommendationEvent._meta.db_table)
        # Deterministic mix: 70% views, 15% clicks, 6% likes, 3% dislikes, 6% skips; two variants.
        cursor.execute(
            f"""
            INSERT INTO {RecommendationEvent._meta.db_table}
                (user_id, content_type, item_id, event, position, model_version, variant, client_event_id, created_at)
            SELECT %(first)s + (i %% %(users)s),
                   (ARRAY['movies', 'manga', 'anime'])[1 + i %% 3],
                   (i %% 5000)::text,
                   CASE WHEN (i * 7919) %% 100 < 70 THEN 'view' WHEN (i * 7919) %% 100 < 85 THEN 'click'
                        WHEN (i * 7919) %% 100 < 91 THEN 'like' WHEN (i * 7919) %% 100 < 94 THEN 'dislike'
                        ELSE 'skip' END,
                   i %% 20,
                   'bench',
                   CASE WHEN (i %% %(users)s) %% 2 = 0 THEN 'control' ELSE 'popular' END,
                   'b' || i,
                   %(start)s + (i %% 86400) * interval '1 second'
            FROM generate_series(1::bigint, %(rows)s::bigint) AS i
            """,
            {"first": first_user, "users": BENCH_USERS, "rows": rows, "start": start},
        )
        for statement in deferred:
            cursor.execute(statement)
        insert_s = time.monotonic() - began
        # What autovacuum would have done before the nightly cron: fresh statistics for the planner.
        cursor.execute(f"ANALYZE {RecommendationEvent._meta.db_table}")
    log(f"inserted {rows} events in {insert_s:.1f}s")
    began = time.monotonic()
    metrics = daily_metrics_aggregate(day=DAY)
    aggregate_s = time.monotonic() - began
    counted = sum(m.impressions + m.clicks + m.likes + m.dislikes + m.skips for m in metrics)
    if counted != rows:
        raise RuntimeError(f"aggregation counted {counted} events, expected {rows}")
    log(f"aggregated {rows} events into {len(metrics)} rows in {aggregate_s:.1f}s")
    return {
        "events": rows,
        "aggregate_s": round(aggregate_s, 2),
        "insert_s": round(insert_s, 1),
        "metric_rows": DailyMetric.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()

    service = services_env()
    env = {
        **os.environ,
        **service,
        "DATABASE_URL": with_database(service["DATABASE_URL"], BENCH_DB),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SECURE_SSL_REDIRECT": "false",
        "RECOMMENDATIONS_SOURCE": "database",
        "LOG_LEVEL": "WARNING",
    }
    # Only PostgreSQL and Redis are started: the graph is not part of this path.
    for key in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
        env.pop(key, None)
    recreate_database(service["DATABASE_URL"], create=True)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicbud.settings")
        import django

        django.setup()
        from django.db import connections

        result = {**ingest(env, args), **aggregate(args.rows)}
        connections.close_all()
    finally:
        recreate_database(service["DATABASE_URL"], create=False)
    result["target_events_per_s"] = 2000
    result["target_aggregate_s"] = 30
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
