"""Fixtures shared by the whole suite: access to the real services started by scripts/services.sh."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.db import connections


def require_service(name: str, configured: bool) -> None:
    """Skip when a service is not configured, unless the run promised all of them (``make test``)."""
    if configured:
        return
    message = f"{name} is not configured (run `make test`, which starts it with scripts/services.sh)"
    if os.environ.get("MUSICBUD_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def neo4j_settings() -> None:
    require_service("Neo4j", bool(settings.NEO4J_URI))


@pytest.fixture
def redis_settings() -> None:
    require_service("Redis", bool(settings.REDIS_URL))


@pytest.fixture
def postgres_settings() -> None:
    require_service("PostgreSQL", settings.DATABASES["default"]["ENGINE"].endswith("postgresql"))


@pytest.fixture(autouse=True)
async def _close_connections_opened_by_async_views() -> AsyncIterator[None]:
    """Async views reach the ORM through sync_to_async's worker thread, whose connection outlives the
    test (the test client keeps connections open). Close it so the test database can be dropped."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def _graph_reachable_again() -> None:
    # A graph a test found unreachable is refused for a few seconds (musicbud.graph.FAIL_FAST_S): not in the next test.
    from musicbud import graph

    graph.forget_unreachable()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # PBKDF2's deliberate slowness is for attackers, not for a test suite that logs users in often.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def clear_shared_cache() -> None:
    """Empty what musicbud.cache holds: the test Redis database, or this process's local-memory cache.

    The environment's REDIS_URL, not the setting: a test may point the setting at a dead server."""
    url = os.environ.get("REDIS_URL")
    if url:
        import redis

        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
    caches["default"].clear()


def asgi_client(**kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client of the whole ASGI application (fast path, API stack, admin stack), in this process."""
    from musicbud.asgi import application

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver", **kwargs)


def shared_data_dir() -> Path:
    """Where the internal-use datasets live (never in the repository): ../shared/data or MUSICBUD_SHARED_DATA."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("MUSICBUD_SHARED_DATA", default))


@pytest.fixture
def shared_data() -> Path:
    root = shared_data_dir()
    if not (root / "ml-100k" / "u.data").is_file():
        pytest.skip(f"shared data not found under {root} (set MUSICBUD_SHARED_DATA)")
    return root


@pytest.fixture
def start_worker(
    transactional_db: None, postgres_settings: None, settings: Any, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    """Starts real workers (``manage.py run_worker`` subprocesses) on this test's database; stops them after.

    The test's own process queues into the database from then on (TASKS' database backend), as the web process
    does. A worker reads its settings from the environment: the model folder and the engine overrides this
    test set when it starts, the rest from ``env``. PostgreSQL only (the test database is a file-less SQLite
    otherwise, which no other process can open).
    """
    from tests.reliability.support import WorkerProcess, database_url

    settings.TASKS = {**settings.TASKS, "default": {**settings.TASKS["default"], "BACKEND": DATABASE_TASKS}}
    workers: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        defaults = {
            "DATABASE_URL": database_url(connections["default"].settings_dict),
            "REDIS_URL": os.environ.get("REDIS_URL"),
            "MODEL_DIR": str(settings.MODEL_DIR),
            "RECOMMENDATIONS_ENGINE": json.dumps(settings.RECOMMENDATIONS_ENGINE),
        }
        worker = WorkerProcess(tmp_path, **{**defaults, **env})
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.stop()


DATABASE_TASKS = "django_tasks_db.DatabaseBackend"
SPARK_MASTER = "local[2]"


@pytest.fixture(scope="session")
def spark_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The one Spark session (a JVM: ~10 s to start here, 1 GiB heap) every Spark test shares; stopped after them.

    engine/spark.py keeps one session per process; starting it here, once, keeps the start-up out of
    whichever test happens to run first and stops the JVM when the suite is done with it.
    """
    from recommendations.engine.spark import SparkOptions, spark_session, stop_spark_session

    spark_session(SparkOptions(master=SPARK_MASTER, staging_dir=tmp_path_factory.mktemp("spark")))
    yield SPARK_MASTER
    stop_spark_session()
