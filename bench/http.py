"""HTTP serving benchmark: recommendation pages, cached and fresh, against the floors of the server and of Django.

Run: ``.venv/bin/python bench/http.py [--rounds 3] [--seconds 8] [--connections 32] [--server granian|uvicorn]``

1. Starts PostgreSQL and Redis (scripts/services.sh). Uses a database of its own, ``musicbud_bench_http``,
   kept between runs: it is seeded once per spec (the spec's fingerprint is the database's COMMENT), so a
   re-run skips seeding and training. Redis db 5 is flushed at the start.
2. Seeds 50k users and 20k items per type, 15 interactions per user and type on average (about 2.26M rows),
   through the production writer (``seed_store`` -> ``write_dataset``), and one Django user per seeded user
   (one shared unusable password hash; tokens are minted with simplejwt in this process). Trains one model
   per type with ``train_model`` + ``save_artifact`` into ``.data/bench_http/models``: the EngineConfig
   defaults but LightFM pinned and 5 epochs instead of 20 (serving cost depends on the shapes, not on the fit).
3. Counts the thread hops of a request in this process: the application is called through httpx's ASGI
   transport with ``loop.run_in_executor`` counted (every ``asyncio.to_thread`` and asgiref
   ``sync_to_async`` goes through it), over 200 requests of each kind.
4. Serves, each with the same server (``--server``: granian as in production, or uvicorn; 2 workers,
   DEBUG=false), three applications:
   ``bench/floors/bare_asgi.py`` (a bare ASGI app answering a body the size of a page: the floor of server +
   HTTP), ``bench/floors/minimal_django.py`` (one async Django view, no middleware, no apps) and
   ``musicbud.asgi:application``; drives them with wrk (``bench/http_load.lua``, a separate process replaying
   pre-generated (token, path) pairs), 1 thread, for a bounded time per scenario, in ``--rounds`` rounds
   whose order rotates (other people's jobs share this machine: rotating keeps a drift in their load from
   favouring one scenario):
   - asgi_floor, django_floor: the two floors;
   - status: ``GET /v1/recommendations/status/`` (DRF + JWT + throttle + a stat of three model files);
   - cached: ``GET /v1/recommendations/movies/?limit=10`` of 500 users whose pages were warmed first;
     every answer must say ``X-Cache: hit``;
   - fresh: the same endpoint, every request a (user, offset) never requested before; every answer must say
     ``X-Cache: miss``;
   - all: ``GET /v1/recommendations/?limit=10`` (every type at once) of the same 500 users, warmed first.
5. A burst: the cached scenario at ``--burst-connections`` (1,000) connections, once.

Each scenario's throughput is its requests over its summed time; its latency percentiles are the medians
of the rounds'. Also printed: the server's CPU time per request (its processes' utime + stime from /proc),
which other load on the machine disturbs much less than throughput does.

Targets: cached throughput >= 15% of the bare ASGI floor and >= 80% of the minimal Django view; fresh p50
<= 2x cached p50; no errors (non-2xx or socket), also in the burst. A missed target is printed as MISSED
(and ``targets_met`` is false) without failing the run; exit status 1 means the measurement itself is
invalid: errors, an unexpected cache state, or a repeated fresh request.
Prints readable lines, then one JSON object as the last line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file would then shadow the standard
# library's ``http`` package (which Django imports): drop the folder before anything imports ``http``.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
# Before numpy is imported, and inherited by the server: one BLAS thread per process (see bench/engine.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import hashlib
import json
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from recommendations.data.seeding import SeedSpec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "musicbud_bench_http"
REDIS_DB = 5
STATE_DIR = ROOT / ".data" / "bench_http"
MODEL_DIR = STATE_DIR / "models"
MODEL_MARKER = MODEL_DIR / "bench-spec.json"
LUA_SCRIPT = Path(__file__).with_name("http_load.lua")

USERS = 50_000
ITEMS_PER_TYPE = 20_000
INTERACTIONS_PER_USER = 15
SEED = 7
EPOCHS = 5
# Bumped when the seeding code of this bench changes in a way the spec does not show.
SEED_FORMAT = 1

CACHED_USERS = 500
LIMIT = 10
FRESH_OFFSETS = (0, 10, 20, 30)
# Fresh requests prepared per second of load: far above what two workers serve on a cache miss.
FRESH_MAX_RPS = 5_000
# Pages no scenario requests: the fresh requests of the hop count.
HOP_OFFSET = 90
SCENARIOS = ("asgi_floor", "django_floor", "status", "cached", "fresh", "all")
# Scenario -> the application that serves it (the floors run on servers of their own).
APPS = {"asgi_floor": "bare", "django_floor": "django"}
STATUS_PATH = "/v1/recommendations/status/"
PAGE_PATH = "/v1/recommendations/movies/?limit={limit}&offset={offset}"
ALL_PATH = "/v1/recommendations/?limit={limit}"
FLOOR_PATH = "/floor"
FLOORS_DIR = Path(__file__).with_name("floors")
HOP_REQUESTS = 200

CACHED_MIN_SHARE_OF_ASGI_FLOOR = 0.15
CACHED_MIN_SHARE_OF_DJANGO_FLOOR = 0.80
FRESH_MAX_P50_OVER_CACHED = 2.0


def say(message: str) -> None:
    print(message, flush=True)


class Phases:
    """Wall time of each phase, in the order they ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)
            say(f"  phase {name}: {self.seconds[name]:.1f}s")


# --- services, database, environment ---------------------------------------------------------------


def services_env() -> dict[str, str]:
    subprocess.run(
        ["bash", str(ROOT / "scripts/services.sh"), "up", "postgres", "redis"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    env: dict[str, str] = {}
    for line in (ROOT / ".services/services.env").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line.removeprefix("export ").split("=", 1)
            env[key] = value
    return env


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def seed_fingerprint() -> str:
    spec = {
        "users": USERS,
        "items": ITEMS_PER_TYPE,
        "interactions_per_user": INTERACTIONS_PER_USER,
        "seed": SEED,
        "format": SEED_FORMAT,
    }
    return "bench-http:" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def prepare_database(admin_url: str, fingerprint: str, *, reseed: bool) -> bool:
    """Make sure BENCH_DB exists; return True when it must be (re)seeded (it is then new and empty)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [BENCH_DB]
        ).fetchone()
        if row is not None and row[0] == fingerprint and not reseed:
            return False
        # Unknown or partial contents (an interrupted seeding leaves no comment): start from nothing.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    return True


def mark_seeded(admin_url: str, fingerprint: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(BENCH_DB), sql.Literal(fingerprint)))


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


# --- data and models (in this process, through Django) ----------------------------------------------


def seed_spec() -> SeedSpec:
    from recommendations.data.seeding import SeedSpec
    from recommendations.domain import ContentType

    return SeedSpec(
        users=USERS,
        items=dict.fromkeys(ContentType, ITEMS_PER_TYPE),
        seed=SEED,
        interactions_per_user=INTERACTIONS_PER_USER,
    )


def seed() -> str:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from recommendations.data.orm_store import OrmInteractionStore
    from recommendations.data.seeding import seed_store

    spec = seed_spec()
    user_model = get_user_model()
    # JWT authentication loads the user: every seeded user id needs an account with the same id.
    password = make_password(None)
    accounts = [
        user_model(id=user_id, username=f"bench-{user_id}", password=password)
        for user_id in range(spec.first_user_id, spec.first_user_id + spec.users)
    ]
    user_model.objects.bulk_create(accounts, batch_size=5_000)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
            [user_model._meta.db_table, spec.first_user_id + spec.users],
        )
    report = seed_store(OrmInteractionStore(), spec, progress=False)
    counts = ", ".join(f"{ct.value} {n:,}" for ct, n in report.interactions.items())
    return f"{spec.users:,} users, {ITEMS_PER_TYPE:,} items per type, interactions: {counts}"


def models_ready(fingerprint: str) -> bool:
    try:
        marker = json.loads(MODEL_MARKER.read_text())
    except (OSError, ValueError):
        return False
    return bool(marker == {"seed": fingerprint, "epochs": EPOCHS, "pinned": "lightfm"})


def train(fingerprint: str) -> list[str]:
    from recommendations.data.seeding import generate_content
    from recommendations.domain import ContentType
    from recommendations.engine import EngineConfig, save_artifact, train_model

    shutil.rmtree(MODEL_DIR, ignore_errors=True)
    # LightFM pinned: the bench measures serving a personalised factor model (selection, left to itself,
    # may serve popularity on synthetic data, which measures less); the fit's quality does not matter here.
    config = EngineConfig.from_overrides({"epochs": EPOCHS, "pinned_models": {"*": "lightfm"}})
    lines = []
    for ct in ContentType:
        # The generator is deterministic: these are exactly the rows seeding wrote for this spec.
        content = generate_content(seed_spec(), ct)
        artifact = train_model(content.interactions, content.catalog, config)
        save_artifact(artifact, MODEL_DIR, ct.value)
        meta = artifact.metadata
        lines.append(
            f"{ct.value}: {artifact.n_users:,} users x {artifact.n_items:,} items,"
            f" {meta['counts']['positives']:,} positives, fit {meta['fit_seconds']:.1f}s"
        )
    MODEL_MARKER.write_text(json.dumps({"seed": fingerprint, "epochs": EPOCHS, "pinned": "lightfm"}))
    return lines


def mint_tokens(user_ids: list[int]) -> dict[int, str]:
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    user_model = get_user_model()
    return {user_id: str(AccessToken.for_user(user_model(id=user_id))) for user_id in user_ids}


# --- the server ------------------------------------------------------------------------------------


def start_server(
    env: dict[str, str],
    port: int,
    workers: int,
    *,
    server: str,
    app: str = "musicbud.asgi:application",
    app_dir: Path = ROOT,
) -> subprocess.Popen[bytes]:
    """``--server`` serving ``app`` (module:attribute, imported from ``app_dir``) on 127.0.0.1:``port``."""
    if server == "granian":
        # The options of scripts/serve.sh (production's command), for any app.
        command = [
            str(ROOT / ".venv/bin/granian"), "--interface", "asgi", "--loop", "uvloop", "--no-ws",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
            "--working-dir", str(app_dir), app,
        ]  # fmt: skip
    else:
        command = [
            str(ROOT / ".venv/bin/uvicorn"), app, "--app-dir", str(app_dir), "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=app_dir,
        env=env,
        # Its own process group: a Ctrl-C of the bench reaches only the bench, whose cleanup stops it.
        start_new_session=True,
    )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()  # the server's supervisor stops its workers on SIGTERM
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def wait_ready(base: str, server: subprocess.Popen[bytes], path: str = "/readyz", timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{base}{path} did not answer 200 within {timeout:.0f}s")


def descendants(pid: int) -> list[str]:
    """The pid and every process below it (Linux /proc)."""
    found, todo = [], [str(pid)]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend((task / "children").read_text().split())
            except OSError:
                continue
    return found


def server_cpu_seconds(server: subprocess.Popen[bytes]) -> float:
    """User + system CPU time of the server's processes so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in descendants(server.pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / tick


# --- load ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    not_2xx: int
    hits: int
    misses: int
    wrapped: int
    server_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def server_cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / max(self.requests, 1)

    @property
    def errors(self) -> int:
        return self.socket_errors + self.not_2xx

    def line(self) -> str:
        return (
            f"{self.name:<7} {self.rps:8.0f} req/s  p50 {self.p50_ms:6.2f} ms  p90 {self.p90_ms:6.2f} ms"
            f"  p99 {self.p99_ms:6.2f} ms  max {self.max_ms:7.1f} ms  requests {self.requests:,}"
            f"  errors {self.errors}  X-Cache hit/miss {self.hits:,}/{self.misses:,}"
            f"  server CPU {self.server_cpu_ms_per_request:.2f} ms/req"
        )


def combine(name: str, rounds: list[LoadResult]) -> LoadResult:
    """One scenario over all rounds: throughput over the summed time; latency percentiles are the rounds' medians."""
    return LoadResult(
        name=name,
        requests=sum(r.requests for r in rounds),
        seconds=sum(r.seconds for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p90_ms=statistics.median(r.p90_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        max_ms=max(r.max_ms for r in rounds),
        socket_errors=sum(r.socket_errors for r in rounds),
        not_2xx=sum(r.not_2xx for r in rounds),
        hits=sum(r.hits for r in rounds),
        misses=sum(r.misses for r in rounds),
        wrapped=sum(r.wrapped for r in rounds),
        server_cpu_s=sum(r.server_cpu_s for r in rounds),
    )


def write_requests(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{url_path}\t{token}\n" for url_path, token in pairs))
    return path


def run_wrk(
    name: str,
    base: str,
    requests_file: Path,
    *,
    seconds: float,
    connections: int,
    threads: int,
    server: subprocess.Popen[bytes],
) -> LoadResult:
    cpu_before = server_cpu_seconds(server)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        # A slow answer is measured, not dropped as a timeout (wrk's default is 2 s).
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        base,
        "--",
        str(requests_file),
        str(threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120)
    cpu = server_cpu_seconds(server) - cpu_before
    lines = [line for line in done.stdout.splitlines() if line.startswith("WRK-RESULT ")]
    if not lines:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(lines[-1].removeprefix("WRK-RESULT "))
    requests = int(raw["requests"])
    return LoadResult(
        name=name,
        requests=requests,
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        socket_errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"],
        not_2xx=raw["not_2xx"],
        hits=raw["hits"],
        misses=raw["misses"],
        wrapped=raw["wrapped"],
        server_cpu_s=cpu,
    )


def warm_pages(base: str, pairs: list[tuple[str, str]]) -> tuple[int, int]:
    """Request each page once, 16 at a time; return (misses, errors). Each must be a miss that gets cached."""
    import httpx

    with httpx.Client(base_url=base, timeout=30, limits=httpx.Limits(max_connections=16)) as client:

        def fetch(pair: tuple[str, str]) -> tuple[bool, bool]:
            url_path, token = pair
            response = client.get(url_path, headers={"Authorization": f"Bearer {token}"})
            return response.status_code == 200, response.headers.get("X-Cache") == "miss"

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(fetch, pairs))
    return sum(miss for _, miss in results), sum(not ok for ok, _ in results)


def request_sets(
    rng: random.Random, tokens: Callable[[list[int]], dict[int, str]], *, seconds: float, rounds: int
) -> dict[str, list[tuple[str, str]]]:
    """(path, token) lists of the scenarios, "fresh-<round>" for each round, and "hops-<kind>" for the hop count.

    No (user, offset) appears twice among the fresh lists; each holds enough requests for FRESH_MAX_RPS
    over one round (wrk's script counts a wrap-around, which fails the run). Only the users in the lists
    get a token: minting costs ~0.1-0.3 ms each.
    """
    all_users = list(range(1, USERS + 1))
    cached_users = rng.sample(all_users, CACHED_USERS)
    warmed = set(cached_users)
    fresh_keys = [
        (user, offset) for offset in FRESH_OFFSETS for user in all_users if not (offset == 0 and user in warmed)
    ]
    rng.shuffle(fresh_keys)
    per_round = min(int(FRESH_MAX_RPS * seconds), len(fresh_keys) // rounds)
    fresh_keys = fresh_keys[: per_round * rounds]
    token_of = tokens(sorted(warmed | {user for user, _ in fresh_keys}))
    first_page = PAGE_PATH.format(limit=LIMIT, offset=0)
    sets = {
        "asgi_floor": [(FLOOR_PATH, token_of[user]) for user in cached_users],
        "django_floor": [(FLOOR_PATH, token_of[user]) for user in cached_users],
        "status": [(STATUS_PATH, token_of[user]) for user in cached_users],
        "cached": [(first_page, token_of[user]) for user in cached_users],
        "all": [(ALL_PATH.format(limit=LIMIT), token_of[user]) for user in cached_users],
        "hops-fresh": [
            (PAGE_PATH.format(limit=LIMIT, offset=HOP_OFFSET), token_of[user]) for user in cached_users[:HOP_REQUESTS]
        ],
    }
    sets["hops-cached"] = sets["cached"][:HOP_REQUESTS]
    sets["hops-status"] = sets["status"][:HOP_REQUESTS]
    for round_no in range(rounds):
        keys = fresh_keys[round_no * per_round : (round_no + 1) * per_round]
        sets[f"fresh-{round_no}"] = [
            (PAGE_PATH.format(limit=LIMIT, offset=offset), token_of[user]) for user, offset in keys
        ]
    return sets


def count_hops(sets: dict[str, list[tuple[str, str]]]) -> dict[str, float]:
    """Thread hops per request of each kind, counted in this process (the application called through ASGI).

    Every hop off the event loop (``asyncio.to_thread``, asgiref's ``sync_to_async``) is a
    ``loop.run_in_executor`` call, so the count is exact. The cached pages are warmed first, uncounted.
    """
    import asyncio

    import httpx

    from musicbud.asgi import application

    async def run() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        counted = {"hops": 0}
        original = loop.run_in_executor

        def counting(executor: object, func: Callable[..., object], *args: object) -> object:
            counted["hops"] += 1
            return original(executor, func, *args)  # type: ignore[arg-type]

        transport = httpx.ASGITransport(app=application)
        per_request = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

            async def send(pairs: list[tuple[str, str]]) -> None:
                for path, token in pairs:
                    response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
                    response.raise_for_status()

            await send(sets["hops-cached"])  # warm: misses, then the counted requests are hits
            loop.run_in_executor = counting  # type: ignore[method-assign,assignment]
            try:
                for kind in ("cached", "fresh", "status"):
                    counted["hops"] = 0
                    await send(sets[f"hops-{kind}"])
                    per_request[kind] = counted["hops"] / len(sets[f"hops-{kind}"])
            finally:
                loop.run_in_executor = original  # type: ignore[method-assign]
        return per_request

    return asyncio.run(run())


# --- orchestration ---------------------------------------------------------------------------------


def raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def bench_env(service: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        **service,
        "DATABASE_URL": with_path(service["DATABASE_URL"], f"/{BENCH_DB}"),
        "REDIS_URL": with_path(service["REDIS_URL"], f"/{REDIS_DB}"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(30),  # 40 characters
        "SECURE_SSL_REDIRECT": "false",
        "RECOMMENDATIONS_SOURCE": "database",
        "MODEL_DIR": str(MODEL_DIR),
        "THROTTLE_RATE_USER": "1000000/minute",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "musicbud.settings",
        # collectstatic never ran for the bench: WhiteNoise's warning about it is noise here.
        "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
    }
    # Only PostgreSQL and Redis: the graph is not on this path.
    for key in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
        env.pop(key, None)
    return env


def prepare(args: argparse.Namespace, phases: Phases) -> dict[str, str]:
    """Services, database, seeded data and models; returns the server's environment."""
    with phases("services"):
        service = services_env()
    env = bench_env(service)
    fingerprint = seed_fingerprint()
    with phases("database"):
        must_seed = prepare_database(service["DATABASE_URL"], fingerprint, reseed=args.reseed)
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    # This process seeds and mints tokens through the server's settings (same database, same SECRET_KEY).
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    if must_seed:
        with phases("seed"):
            say(f"seeding {BENCH_DB}: " + seed())
            connections.close_all()
            mark_seeded(service["DATABASE_URL"], fingerprint)
    else:
        say(f"seeding skipped: {BENCH_DB} already holds this spec ({fingerprint}; --reseed to redo)")
    if must_seed or not models_ready(fingerprint):
        with phases("train"):
            say(f"training {EPOCHS} epochs per type (EngineConfig defaults otherwise) into {MODEL_DIR}")
            for line in train(fingerprint):
                say(f"  {line}")
    else:
        say(f"training skipped: {MODEL_DIR} holds models of this spec")
    connections.close_all()
    flush_redis(env["REDIS_URL"])
    return env


def warm_all(base: str, pairs: list[tuple[str, str]]) -> int:
    """Request each all-types page once (caching every type's first page); return the errors."""
    import httpx

    with httpx.Client(base_url=base, timeout=30) as client:
        return sum(
            client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code != 200 for path, token in pairs
        )


def measure(
    env: dict[str, str],
    args: argparse.Namespace,
    phases: Phases,
    sets: dict[str, list[tuple[str, str]]],
    checks: list[str],
) -> tuple[dict[str, LoadResult], LoadResult]:
    """Serve, warm the cached pages, load the scenarios round after round, then the burst; servers always stop."""
    rounds: dict[str, list[LoadResult]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        files = {name: write_requests(Path(tmp) / f"{name}.tsv", pairs) for name, pairs in sets.items()}
        ports = {app: free_port() for app in ("bare", "django", "musicbud")}
        bases = {app: f"http://127.0.0.1:{port}" for app, port in ports.items()}
        servers: dict[str, subprocess.Popen[bytes]] = {}
        try:
            with phases("server start"):
                servers["bare"] = start_server(
                    env, ports["bare"], args.workers, server=args.server, app="bare_asgi:app", app_dir=FLOORS_DIR
                )
                servers["django"] = start_server(
                    env, ports["django"], args.workers, server=args.server, app="minimal_django:app",
                    app_dir=FLOORS_DIR,
                )  # fmt: skip
                servers["musicbud"] = start_server(env, ports["musicbud"], args.workers, server=args.server)
                wait_ready(bases["bare"], servers["bare"], path=FLOOR_PATH)
                wait_ready(bases["django"], servers["django"], path=FLOOR_PATH)
                wait_ready(bases["musicbud"], servers["musicbud"])
            with phases("warm"):
                misses, warm_errors = warm_pages(bases["musicbud"], sets["cached"])
                if misses != CACHED_USERS or warm_errors:
                    checks.append(f"warming: {misses} misses (expected {CACHED_USERS}), {warm_errors} errors")
                if warm_all(bases["musicbud"], sets["all"]):
                    checks.append("warming the all-types pages failed")
                # Unmeasured: every worker has loaded the model and opened its pools before measuring.
                for app, name in (("bare", "asgi_floor"), ("django", "django_floor"), ("musicbud", "cached")):
                    warmup = run_wrk(
                        "warm-up", bases[app], files[name], seconds=3, connections=args.connections, threads=1,
                        server=servers[app],
                    )  # fmt: skip
                    if warmup.errors:
                        checks.append(f"warm-up of {app}: {warmup.errors} errors")
            say(
                f"load: wrk {args.threads} thread(s), {args.connections} connections; {args.rounds} rounds of"
                f" {args.seconds:g}s per scenario in rotating order; {args.server} {args.workers} workers;"
                f" load average {os.getloadavg()[0]:.1f}"
            )
            for round_no in range(args.rounds):
                # Rotating the order keeps a drift in the machine's load from favouring one scenario.
                shift = round_no % len(SCENARIOS)
                order = SCENARIOS[shift:] + SCENARIOS[:shift]
                with phases(f"round {round_no + 1}"):
                    for name in [n for n in order if n in args.only]:
                        app = APPS.get(name, "musicbud")
                        result = run_wrk(
                            name,
                            bases[app],
                            files[f"fresh-{round_no}" if name == "fresh" else name],
                            seconds=args.seconds,
                            connections=args.connections,
                            threads=args.threads,
                            server=servers[app],
                        )
                        rounds.setdefault(name, []).append(result)
                        say("    " + result.line())
            with phases("burst"):
                burst = run_wrk(
                    "burst", bases["musicbud"], files["cached"], seconds=args.seconds,
                    connections=args.burst_connections, threads=args.threads, server=servers["musicbud"],
                )  # fmt: skip
                say(f"    {args.burst_connections} connections: " + burst.line())
        finally:
            with phases("server stop"):
                for server in servers.values():
                    stop_server(server)
    return {name: combine(name, rounds[name]) for name in SCENARIOS if name in rounds}, burst


def report(
    results: dict[str, LoadResult], burst: LoadResult, hops: dict[str, float], *, checks: list[str], phases: Phases,
    started: float, burst_connections: int,
) -> int:  # fmt: skip
    cached, fresh = results["cached"], results["fresh"]
    for name in ("cached", "all"):
        result = results[name]
        if result.hits != result.requests and name == "cached":
            checks.append(f"cached: {result.requests - result.hits} of {result.requests} answers were not X-Cache hit")
    if burst.hits != burst.requests:
        checks.append(f"burst: {burst.requests - burst.hits} of {burst.requests} answers were not X-Cache hit")
    if fresh.misses != fresh.requests or fresh.wrapped:
        checks.append(
            f"fresh: {fresh.requests - fresh.misses} of {fresh.requests} answers were not X-Cache miss"
            f" ({fresh.wrapped} request lists wrapped around)"
        )
    errors = sum(result.errors for result in results.values())
    if errors:
        checks.append(f"{errors} errors (non-2xx or socket)")

    say("all rounds (req/s over the summed time; latencies: median of the rounds):")
    for result in results.values():
        say("  " + result.line())
    say(f"burst: {burst.line()}")
    say("thread hops per request (counted in-process): " + ", ".join(f"{k} {v:.2f}" for k, v in hops.items()))
    asgi_share = cached.rps / results["asgi_floor"].rps
    django_share = cached.rps / results["django_floor"].rps
    p50_ratio = fresh.p50_ms / cached.p50_ms
    targets = {
        f"cached throughput >= {CACHED_MIN_SHARE_OF_ASGI_FLOOR:.0%} of the bare ASGI floor": (
            asgi_share >= CACHED_MIN_SHARE_OF_ASGI_FLOOR
        ),
        f"cached throughput >= {CACHED_MIN_SHARE_OF_DJANGO_FLOOR:.0%} of the minimal Django view": (
            django_share >= CACHED_MIN_SHARE_OF_DJANGO_FLOOR
        ),
        f"fresh p50 <= {FRESH_MAX_P50_OVER_CACHED:g}x cached p50": p50_ratio <= FRESH_MAX_P50_OVER_CACHED,
        "no errors": errors == 0,
        "burst: no socket errors, no non-2xx": burst.errors == 0,
    }
    say(
        f"cached/asgi floor {asgi_share:.1%}; cached/django floor {django_share:.0%};"
        f" fresh p50 / cached p50 {p50_ratio:.2f}x"
    )
    for target, met in targets.items():
        say(f"target {target}: {'met' if met else 'MISSED'}")
    for check in checks:
        say(f"CHECK FAILED: {check}")
    total_s = round(time.monotonic() - started, 1)
    say(f"total {total_s:.0f}s; load average {os.getloadavg()[0]:.1f}")
    print(
        json.dumps(
            {
                "asgi_floor_rps": round(results["asgi_floor"].rps, 1),
                "django_floor_rps": round(results["django_floor"].rps, 1),
                "status_rps": round(results["status"].rps, 1),
                "cached_rps": round(cached.rps, 1),
                "fresh_rps": round(fresh.rps, 1),
                "all_rps": round(results["all"].rps, 1),
                "cached_p50_ms": round(cached.p50_ms, 2),
                "cached_p99_ms": round(cached.p99_ms, 2),
                "fresh_p50_ms": round(fresh.p50_ms, 2),
                "fresh_p99_ms": round(fresh.p99_ms, 2),
                "errors": errors,
                "hops_per_cached_request": hops["cached"],
                "hops_per_request": hops,
                "cached_share_of_asgi_floor": round(asgi_share, 3),
                "cached_share_of_django_floor": round(django_share, 2),
                "fresh_p50_over_cached": round(p50_ratio, 2),
                "burst": {
                    "connections": burst_connections,
                    "rps": round(burst.rps, 1),
                    "p50_ms": round(burst.p50_ms, 1),
                    "p99_ms": round(burst.p99_ms, 1),
                    "socket_errors": burst.socket_errors,
                    "not_2xx": burst.not_2xx,
                },
                "server_cpu_ms_per_request": {
                    name: round(r.server_cpu_ms_per_request, 3) for name, r in results.items()
                },
                "targets_met": all(targets.values()),
                "phases_s": {**phases.seconds, "total": total_s},
            }
        ),
        flush=True,
    )
    return 1 if checks else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="load duration of each scenario in each round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the scenarios, in rotating order")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (the machine may have 2 cores)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--server", choices=["granian", "uvicorn"], default="granian", help="granian: production's")
    parser.add_argument("--burst-connections", type=int, default=1000)
    parser.add_argument(
        "--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS), help="a subset of the scenarios (to iterate)"
    )
    parser.add_argument("--reseed", action="store_true", help="drop the bench database and seed and train again")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    # Also when started in the background, where a shell may have set SIGINT to be ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    started = time.monotonic()
    phases = Phases()
    say(f"bench/http.py: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")
    env = prepare(args, phases)
    with phases("tokens"):
        sets = request_sets(random.Random(SEED), mint_tokens, seconds=args.seconds, rounds=args.rounds)
    with phases("hops"):
        hops = count_hops(sets)
    flush_redis(env["REDIS_URL"])
    checks: list[str] = []
    results, burst = measure(env, args, phases, sets, checks)
    if set(args.only) != set(SCENARIOS):
        say("a subset of the scenarios ran: no targets, no JSON line (see the lines above)")
        return 0
    return report(
        results, burst, hops, checks=checks, phases=phases, started=started, burst_connections=args.burst_connections
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted (the server was stopped)")
        sys.exit(130)
