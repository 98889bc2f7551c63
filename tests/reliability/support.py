"""Shared machinery of the reliability and security tests: figures, service instances, a live server.

Fault tests stop and restart services, so they never touch the shared instances on the default ports:
each starts its own instance through our scripts (own port, own data folder under
``.services/reliability/``) and stops it afterwards. The server under test is the production server
(``scripts/serve.sh``: granian) on 127.0.0.1, pointed at those instances through the environment like a deployment.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
FIGURES_FILE = REPO / ".data" / "reliability" / "figures.jsonl"
INSTANCES_DIR = REPO / ".services" / "reliability"
# What the live server signs its JWTs with (it runs with DEBUG=false, which requires a real key).
SERVER_SECRET = "reliability-tests-signing-key-0123456789abcdef"
# Variables that point a process at the shared services; a server under test gets its own values.
SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "RECOMMENDATIONS_SOURCE")
NEO4J_TEST_PASSWORD = "reliability-neo4j-password"


def record_figure(test: str, **figures: Any) -> dict[str, Any]:
    """Print a test's figures and append them to .data/reliability/figures.jsonl (quoted by the docs)."""
    line = {"test": test, "at": datetime.now(UTC).isoformat(timespec="seconds"), **figures}
    print(f"FIGURE {json.dumps(line)}")
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES_FILE.open("a") as f:
        f.write(json.dumps(line) + "\n")
    return line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(settings_dict: Mapping[str, Any]) -> str:
    """The URL of the database the test runs on (with transaction=True its rows are committed)."""
    s = settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def mint_access_token(user_id: int, *, secret: str = SERVER_SECRET, minutes: int = 30, staff: bool = False) -> str:
    """An access token exactly as simplejwt issues one, signed with the live server's key."""
    now = datetime.now(UTC)
    claims = {
        "token_type": "access",
        "user_id": str(user_id),
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "is_staff": staff,  # musicbud.auth.STAFF_CLAIM
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(user_id: int, *, staff: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_access_token(user_id, staff=staff)}"}


def process_env(**values: str | None) -> dict[str, str]:
    """This process's environment without the shared services' variables, plus ``values`` (None unsets)."""
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARS}
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(*args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        env=dict(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def terminate(process: subprocess.Popen[bytes], *, grace_s: float) -> None:
    """SIGTERM, then SIGKILL if the process has not ended within ``grace_s`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


class LiveServer:
    """scripts/serve.sh (granian) serving musicbud.asgi:application on 127.0.0.1 with production settings."""

    def __init__(self, log_dir: Path, **env: str | None) -> None:
        self.port = free_port()
        # serve.sh's own variable; one worker unless a test asks for more.
        self.workers = env.pop("SERVE_WORKERS", None) or "1"
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        self.env = process_env(
            DEBUG="false",
            SECRET_KEY=SERVER_SECRET,
            SECURE_SSL_REDIRECT="false",
            THROTTLE_RATE_USER="1000000/minute",
            LOG_LEVEL="WARNING",
            # As deployed: the server queues background work; a test that needs it run starts a worker.
            TASKS_BACKEND="database",
            **env,
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "serve.sh"), "127.0.0.1", str(self.port), self.workers],
            env={**self.env, "VENV_BIN": str(VENV_BIN)},
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{self.log_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not answer /healthz:\n{self.log_text()[-3000:]}")

    @property
    def pid(self) -> int:
        """The server's main process (serve.sh execs granian); its workers are its children."""
        assert self._process is not None, "the server is not running"
        return self._process.pid

    def stop(self) -> None:
        if self._process is not None:
            terminate(self._process, grace_s=15)
            self._process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


WORKER_STARTED = "worker started"  # what recommendations.worker logs once its threads run


class WorkerProcess:
    """``manage.py run_worker`` as a real subprocess (its own log file), stopped with SIGTERM or killed with SIGKILL."""

    def __init__(self, log_dir: Path, **env: str | None) -> None:
        self.log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        self.env = process_env(TASKS_BACKEND="database", LOG_LEVEL="INFO", **env)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (again, after a kill: the same log file) and wait until it says it started."""
        starts = self.log_text().count(WORKER_STARTED)
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, str(REPO / "manage.py"), "run_worker"],
            env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while self.log_text().count(WORKER_STARTED) == starts:
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the worker did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        assert self._process is not None, "the worker is not running"
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler runs, as when the machine or the OOM killer stops it."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=15)
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            terminate(self._process, grace_s=30)
            self._process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def live_server(log_dir: Path, **env: str | None) -> Iterator[LiveServer]:
    server = LiveServer(log_dir, **env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def live_worker(log_dir: Path, **env: str | None) -> Iterator[WorkerProcess]:
    """A worker on a live server's settings (``env``): what the server queues is run."""
    worker = WorkerProcess(log_dir, **env)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def _run_script(args: list[str], env: Mapping[str, str], timeout: float = 240) -> None:
    result = subprocess.run(args, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")


class ServiceInstance:
    """A private instance of one service, started and stopped by its script in scripts/."""

    script: str = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = INSTANCES_DIR / f"{self.__class__.__name__.lower()}-{self.port}"

    def env(self) -> dict[str, str]:
        raise NotImplementedError

    def start(self) -> None:
        _run_script(["bash", str(REPO / self.script), "start"], self.env())

    def stop(self) -> None:
        _run_script(["bash", str(REPO / self.script), "stop"], self.env())

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisInstance(ServiceInstance):
    script = "scripts/redis.sh"

    def env(self) -> dict[str, str]:
        return {**os.environ, "REDIS_PORT_MUSICBUD": str(self.port), "REDIS_DIR_MUSICBUD": str(self.dir)}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class PostgresInstance(ServiceInstance):
    script = "scripts/postgres.sh"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PGPORT_MUSICBUD": str(self.port), "PG_DIR_MUSICBUD": str(self.dir)}

    @property
    def url(self) -> str:
        return f"postgres://musicbud:musicbud@127.0.0.1:{self.port}/musicbud"


class Neo4jInstance(ServiceInstance):
    script = "scripts/neo4j/neo4j.sh"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "NEO4J_PORT": str(self.port),
            "NEO4J_DATA_DIR": str(self.dir / "data"),
            "NEO4J_LOG": str(self.dir / "neo4j.log"),
            "NEO4J_PASSWORD": NEO4J_TEST_PASSWORD,
        }

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"


@contextmanager
def running(instance: ServiceInstance) -> Iterator[ServiceInstance]:
    """Start a private instance; always stop it and delete its data afterwards."""
    instance.start()
    try:
        yield instance
    finally:
        try:
            instance.stop()
        finally:
            instance.remove()
