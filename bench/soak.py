"""Soak: the production server under mixed load for a bounded time while its dependencies fail and models change.

Run: ``.venv/bin/python bench/soak.py [--minutes 30] [--rate 40]`` (``make test`` runs ``--minutes 3``).

1. Starts private PostgreSQL, Redis and Neo4j instances (tests/reliability/support.py: our scripts, free ports,
   own folders, deleted afterwards), migrates, seeds the graph (``seed_store``: USERS users, ITEMS per type,
   INTERACTIONS_PER_USER each), creates the Django accounts and trains a model per type (``train_content_type``;
   pinned so that both model kinds are served: LightFM for movies, EASE for manga, ALS for anime).
2. Serves ``musicbud.asgi:application`` with ``scripts/serve.sh`` (granian, 2 workers, DEBUG=false) on Neo4j as
   the interaction store, with the background worker beside it (``manage.py run_worker``: trainings, drains), and
   drives it from a separate process (``bench/soak_load.py``: cached and fresh pages of
   every type, every type at once, similar items, buds, the popular/trending/latest lists, the status, event
   batches with every interaction kind, token refreshes and logins) at ``--rate`` requests per second.
3. Meanwhile the fault schedule (``bench/soak_faults.py``): Redis, PostgreSQL and Neo4j each restarted, a retrain
   of each type through the staff API, the worker killed (SIGKILL) and restarted, a burst of 1,000 connections,
   and PUBLISHES new model versions.
   Their times are shares of the run, so ``--minutes 3`` has every fault too.
4. Every 10 s it samples (``bench/soak_metrics.py``) throughput, p50/p99, errors by kind, each server process's
   RSS and open file descriptors and mapped model versions, Redis keys and memory, PostgreSQL connections and the
   outbox.
5. At the end it checks (``bench/soak_checks.py``): every event answered 2xx stored once and applied (the graph
   holds the last change of each user/item/kind, the outbox is empty); no request failed outside an outage, and
   inside one only with a documented 503; each worker's RSS and fds flat after warm-up (RSS_BOUND_MB, FDS_BOUND);
   no worker maps a deleted model version; keys without a TTL are only the cache generations; every fault ran
   and came back (retrains succeeded, the burst answered 200 throughout); no 500 logged; no server worker
   restarted; the background worker alive at the end, started only by the soak (once, then once per kill).

Writes ``.data/soak/<stamp>-<minutes>min/`` (samples.csv, soak.png, windows.json, requests.csv, acked.jsonl,
the server log) and prints one JSON line last. Exit status 1 when a check failed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where bench/http.py would shadow the standard
# library's ``http`` (which httpx imports): drop it before anything imports ``http``.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Before numpy is imported, and inherited by the server: one BLAS thread per process (see bench/engine.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import math
import signal
import subprocess
import threading
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np

from bench import soak_checks as checks
from bench.soak_faults import Schedule, Step, burst, down_seconds, restart, restart_worker, retrain
from bench.soak_metrics import (
    SAMPLE_S,
    RequestLog,
    postgres_stats,
    process_stats,
    redis_stats,
    request_figures,
    server_workers,
    write_chart,
    write_csv,
)
from tests.reliability.support import (
    NEO4J_TEST_PASSWORD,
    SERVER_SECRET,
    LiveServer,
    Neo4jInstance,
    PostgresInstance,
    RedisInstance,
    ServiceInstance,
    WorkerProcess,
    mint_access_token,
    running,
)

ROOT = Path(__file__).resolve().parents[1]
OUT_ROOT = ROOT / ".data" / "soak"
WORKERS = 2
# Small enough to seed and train in under a minute here (the 3-minute soak runs in `make test`), big enough
# that scoring, fold-in and buds do real work: 36k interactions over 900 items.
USERS = 600
ITEMS = {"movies": 400, "manga": 200, "anime": 300}
INTERACTIONS_PER_USER = 20
SEED = 18
READERS = 60  # seeded users 1..READERS read
WRITERS = 8  # users USERS+1.. (no seeded history) write events
READER_TASKS = 8
PASSWORD = "soak-password-not-secret"
# Both model kinds served and retrained (factors: LightFM, ALS; item-item: EASE), small and quick.
ENGINE = {"pinned_models": {"movies": "lightfm", "manga": "ease", "anime": "als"}, "no_components": 16,
          "epochs": 8, "num_threads": 1}  # fmt: skip
PUBLISHES = 12
# Between faults, a worker's peak RSS in the fault track's second round may exceed its peak in the first by at
# most this, and its open fds by at most FDS_BOUND (soak_checks.check_flat; docs/reliability.md has the growth
# measured).
RSS_BOUND_MB = 64.0
FDS_BOUND = 16
DRAIN_TIMEOUT_S = 90.0


def say(message: str) -> None:
    print(f"[soak] {message}", flush=True)


def start_services(stack: ExitStack) -> tuple[PostgresInstance, RedisInstance, Neo4jInstance]:
    """The three private instances; Neo4j's JVM boots in the background while PostgreSQL and Redis start."""
    neo4j = Neo4jInstance()
    boot = threading.Thread(target=neo4j.start, daemon=True)
    boot.start()
    stack.callback(_stop_and_remove, neo4j)
    pg = stack.enter_context(running(PostgresInstance()))
    redis = stack.enter_context(running(RedisInstance()))
    boot.join(timeout=300)
    if boot.is_alive():
        raise RuntimeError("Neo4j did not start within 300 s")
    return pg, redis, neo4j  # type: ignore[return-value]


def _stop_and_remove(instance: ServiceInstance) -> None:
    try:
        instance.stop()
    finally:
        instance.remove()


def server_env(pg: PostgresInstance, redis: RedisInstance, neo4j: Neo4jInstance, model_dir: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": pg.url,
        "REDIS_URL": redis.url,
        "NEO4J_URI": neo4j.uri,
        "NEO4J_PASSWORD": NEO4J_TEST_PASSWORD,
        "RECOMMENDATIONS_SOURCE": "neo4j",
        "MODEL_DIR": str(model_dir),
        "RECOMMENDATIONS_ENGINE": json.dumps(ENGINE),
    }


def prepare_data(env: dict[str, str]) -> None:
    """Migrate, seed the graph, create the accounts and train every type, in this process through Django."""
    os.environ.update(env, DEBUG="true", SECRET_KEY=SERVER_SECRET, LOG_LEVEL="WARNING")
    os.environ.pop("REDIS_URL", None)  # this process caches nothing the server reads
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicbud.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from recommendations.data import get_interaction_store
    from recommendations.data.seeding import SeedSpec, seed_store
    from recommendations.domain import ContentType
    from recommendations.training import train_content_type

    call_command("migrate", "--no-input", verbosity=0)
    spec = SeedSpec(users=USERS, items={ContentType(k): v for k, v in ITEMS.items()}, seed=SEED,
                    interactions_per_user=INTERACTIONS_PER_USER, months=6)  # fmt: skip
    seed_store(get_interaction_store(), spec, progress=False)
    password = make_password(PASSWORD)  # one hash for all: PBKDF2 costs ~0.5 s each
    user = get_user_model()
    user.objects.bulk_create(
        [user(id=n, username=f"user{n}", password=password) for n in range(1, USERS + WRITERS + 1)]
        + [user(id=staff_id(), username="soak-staff", password=password, is_staff=True)]
    )
    for ct in ContentType:
        log = train_content_type(ct, triggered_by="soak", force=True)
        say(f"trained {ct.value}: {log.status} in {log.duration_s} s ({log.model_version})")
    close_connections()


def close_connections() -> None:
    """This process's database and graph connections: PostgreSQL and Neo4j restart before it uses them again."""
    from django.db import connections

    from musicbud import graph

    connections.close_all()
    graph.close_sync_driver()


def staff_id() -> int:
    return USERS + WRITERS + 100


def writer_ids() -> list[int]:
    return list(range(USERS + 1, USERS + WRITERS + 1))


def login(url: str, username: str) -> str:
    response = httpx.post(f"{url}/v1/auth/token/", json={"username": username, "password": PASSWORD}, timeout=30)
    response.raise_for_status()
    return str(response.json()["access"])


def write_plan(path: Path, url: str, minutes: float, rate: float) -> dict[int, str]:
    # Readers' tokens are minted with the server's key (as bench/http.py does): logging in 60 users costs the
    # server ~30 s of PBKDF2. They outlive the run; writers log in and refresh for real.
    readers = {n: mint_access_token(n, minutes=int(minutes) + 60) for n in range(1, READERS + 1)}
    plan = {
        "url": url,
        # A bound only: the soak stops the load itself (SIGTERM) once the run and its fault track are over.
        "deadline": time.time() + minutes * 60 * 2 + 600,
        "rate": rate,
        "reader_tasks": READER_TASKS,
        "readers": readers,
        "writers": [{"user_id": n, "username": f"user{n}", "password": PASSWORD} for n in writer_ids()],
        "seed": SEED,
    }
    path.write_text(json.dumps(plan))
    return readers


# The fault track, run twice (ROUNDS): each step's start as a share of one round. The first round is also the
# warm-up for the flatness checks: the second repeats everything it did, so growth there is a leak, not a pool
# or cache filling up for the first time.
ROUNDS = 2
ROUND_STEPS = (
    ("redis restart", 0.00),
    ("postgres restart", 0.13),
    ("burst 1000 connections", 0.26),
    ("retrain movies", 0.35),
    ("worker kill and restart", 0.41),
    ("neo4j restart", 0.46),
    ("retrain manga", 0.72),
    ("retrain anime", 0.83),
)
FIRST_ROUND_AT, ROUND_SHARE = 0.05, 0.46
# The steps that may cost requests (documented 503s only): the outages, and the burst (overload may be shed).
FAULT_WINDOWS = frozenset({"redis restart", "postgres restart", "neo4j restart", "burst 1000 connections"})


def fault_steps(minutes: float, url: str, staff: str, tokens: list[str],
                instances: tuple[PostgresInstance, RedisInstance, Neo4jInstance], *,
                worker: WorkerProcess) -> list[Step]:  # fmt: skip
    pg, redis, neo4j = instances
    down = down_seconds(minutes)
    runs = {
        "worker kill and restart": restart_worker(worker, down_s=down),
        "redis restart": restart(redis, down_s=down, url=url),
        "postgres restart": restart(pg, down_s=down, url=url),
        "neo4j restart": restart(neo4j, down_s=down, url=url),
        "retrain movies": retrain(url, staff, "movies"),
        "retrain manga": retrain(url, staff, "manga"),
        "retrain anime": retrain(url, staff, "anime"),
        "burst 1000 connections": burst(url, tokens, "/v1/recommendations/movies/?limit=10"),
    }
    return [
        Step(name, FIRST_ROUND_AT + ROUND_SHARE * (n + share), runs[name], outage=name in FAULT_WINDOWS, cycle=n + 1)
        for n in range(ROUNDS)
        for name, share in ROUND_STEPS
    ]


class Sampler:
    """One row every SAMPLE_S seconds: the load's requests since the last row, the processes, the services."""

    def __init__(self, *, t0: float, server: LiveServer, worker: WorkerProcess, requests: RequestLog,
                 instances: tuple[Any, ...], model_dir: Path, schedule: Schedule) -> None:  # fmt: skip
        self.t0, self.server, self.requests, self.model_dir, self.schedule = t0, server, requests, model_dir, schedule
        self.worker = worker
        self.pg, self.redis = instances[0], instances[1]
        self.workers = server_workers(server.pid)
        self.samples: list[dict[str, Any]] = []
        self.worker_changes = 0

    def sample(self) -> dict[str, Any]:
        now = time.time()
        row: dict[str, Any] = {"t_s": round(now - self.t0, 1)}
        row["active"] = "|".join(w.name for w in self.schedule.windows if w.start <= now <= w.end)
        row.update(request_figures(self.requests.read_new(), SAMPLE_S))
        workers = server_workers(self.server.pid)
        if workers != self.workers:
            self.worker_changes += 1
            say(f"the server's workers changed: {self.workers} -> {workers}")
            self.workers = workers
        deleted = 0
        for n, pid in enumerate(workers):
            stats = process_stats(pid, self.model_dir)
            deleted += stats.deleted_mapped
            row.update({f"w{n}_rss_mb": round(stats.rss_mb, 1), f"w{n}_anon_mb": round(stats.anon_mb, 1),
                        f"w{n}_file_mb": round(stats.file_mb, 1), f"w{n}_fds": stats.fds,
                        f"w{n}_versions": stats.mapped_versions})  # fmt: skip
        main = process_stats(self.server.pid, self.model_dir)
        row.update(main_rss_mb=round(main.rss_mb, 1), main_fds=main.fds, deleted_mapped=deleted)
        # The background worker (NaN while it is killed): its RSS carries a training's peak.
        bg = process_stats(self.worker.pid, self.model_dir) if self.worker.running else None
        row["bg_rss_mb"] = round(bg.rss_mb, 1) if bg else math.nan
        row["redis_keys"], row["redis_mb"] = (round(v, 2) for v in redis_stats(self.redis.port))
        row["pg_connections"], row["outbox_pending"] = postgres_stats(
            self.pg.url.replace("postgres://", "postgresql://")
        )
        self.samples.append(row)
        say(
            " ".join(
                f"{k}={row[k]}"
                for k in (
                    "t_s",
                    "rps",
                    "p50_ms",
                    "p99_ms",
                    "errors",
                    "w0_rss_mb",
                    "w1_rss_mb",
                    "w0_fds",
                    "w1_fds",
                    "bg_rss_mb",
                    "redis_keys",
                    "pg_connections",
                    "active",
                )
            )
        )
        return row

    def run_until(self, done: threading.Event) -> None:
        next_at = time.monotonic()
        while not done.is_set():
            next_at += SAMPLE_S
            done.wait(max(next_at - time.monotonic(), 0))
            self.sample()

    def final_mappings(self) -> dict[str, dict[str, int]]:
        final = {}
        for pid in server_workers(self.server.pid):
            stats = process_stats(pid, self.model_dir)
            final[str(pid)] = {"mapped_versions": stats.mapped_versions, "deleted_mapped": stats.deleted_mapped}
        return final


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def wait_drained(timeout: float) -> float:
    from recommendations.models import PendingInteraction

    started = time.monotonic()
    while PendingInteraction.objects.exists() and time.monotonic() - started < timeout:
        time.sleep(1)
    return round(time.monotonic() - started, 1)


def overall(requests: list[Any], seconds: float) -> dict[str, Any]:
    ms = np.array([r.ms for r in requests])
    by_op = Counter(r.op for r in requests)
    failures = Counter(r.kind for r in requests if r.failed)
    return {"requests": len(requests), "rps": round(len(requests) / seconds, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(float(ms.max()), 1),
            "by_operation": dict(by_op), "failed_by_kind": dict(failures)}  # fmt: skip


def run_checks(*, sampler: Sampler, schedule: Schedule, windows: list[dict[str, Any]], requests: list[Any],
               out: Path, server_log: str, worker_log: str, redis_port: int,
               slow_ms: float) -> dict[str, dict[str, Any]]:  # fmt: skip
    batches = checks.read_acked(out / "acked.jsonl")
    results: dict[str, checks.Check] = {
        "events_stored_once": checks.check_events_stored_once(batches, writer_ids()),
        "events_applied": checks.check_events_applied(batches, writer_ids()),
        "no_failure_outside_outages": checks.check_failures(requests, schedule.windows),
        "no_slow_request_outside_faults": checks.check_slow_outside_faults(
            requests, schedule.windows, bound_ms=slow_ms
        ),
        "rss_flat": checks.check_flat(
            sampler.samples, windows, [f"w{n}_rss_mb" for n in range(WORKERS)], bound=RSS_BOUND_MB
        ),
        "fds_flat": checks.check_flat(
            sampler.samples, windows, [f"w{n}_fds" for n in range(WORKERS)], bound=FDS_BOUND, at_end=True
        ),
        "old_versions_released": checks.check_versions_released(
            sampler.final_mappings(), sum(w.name.startswith("publish") for w in schedule.windows)
        ),
        "redis_keys_without_ttl": checks.check_redis_keys_without_ttl(redis_port, USERS + WRITERS + 1),
    }
    names = {(w.name, w.cycle) for w in schedule.windows}
    expected = {(name, n + 1) for name, _ in ROUND_STEPS for n in range(ROUNDS)}
    failed_steps = [w.name for w in schedule.windows if not w.ok]
    results["every_fault_ran_and_recovered"] = (
        expected <= names and not failed_steps and not schedule.errors,
        {"missing": sorted(f"{name} #{n}" for name, n in expected - names), "failed": failed_steps},
    )
    results["no_500_logged"] = (
        "Internal Server Error" not in server_log,
        {"internal_server_errors": server_log.count("Internal Server Error"),
         "tracebacks": server_log.count("Traceback")},
    )  # fmt: skip
    results["workers_stable"] = (sampler.worker_changes == 0, {"worker_changes": sampler.worker_changes})
    # The background worker: alive, and never restarted but by the soak's kills (a loop that died of something
    # unexpected exits it). A drain caught by the PostgreSQL restart fails as a task (logged with its traceback)
    # and its rows wait for the periodic pass: counted here, judged by events_applied.
    kills = sum(w.name == "worker kill and restart" for w in schedule.windows)
    starts = worker_log.count("worker started")
    results["background_worker_alive"] = (
        sampler.worker.running and starts == 1 + kills,
        {"starts": starts, "kills": kills, "tasks_failed": worker_log.count("state=FAILED"),
         "tracebacks": worker_log.count("Traceback")},
    )  # fmt: skip
    return {name: {"ok": ok, **figures} for name, (ok, figures) in results.items()}


def start_processes(stack: ExitStack, out: Path, env: dict[str, str]) -> tuple[LiveServer, WorkerProcess]:
    """The server and the background worker, on the same settings; stopped when the soak's stack closes."""
    server = LiveServer(out, SERVE_WORKERS=str(WORKERS), **env)
    server.start()
    stack.callback(server.stop)
    worker = WorkerProcess(out, **env)
    worker.start()
    stack.callback(worker.stop)
    return server, worker


def soak(args: argparse.Namespace) -> int:
    minutes: float = args.minutes
    seconds = minutes * 60
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = OUT_ROOT / f"{stamp}-{minutes:g}min"
    model_dir = out / "models"
    out.mkdir(parents=True)
    with ExitStack() as stack:
        started = time.monotonic()
        instances = start_services(stack)
        env = server_env(*instances, model_dir)
        prepare_data(env)
        say(f"services and data ready in {time.monotonic() - started:.0f} s")
        server, worker = start_processes(stack, out, env)
        staff = login(server.url, "soak-staff")
        tokens = write_plan(out / "plan.json", server.url, minutes, args.rate)

        t0 = time.time()
        load_log = (out / "load.log").open("w")
        load = subprocess.Popen([sys.executable, "-m", "bench.soak_load", str(out / "plan.json"), str(out)],
                                cwd=ROOT, stdout=load_log, stderr=subprocess.STDOUT)  # fmt: skip
        stack.callback(stop_process, load)
        schedule = Schedule(t0, seconds)
        schedule.start_faults(fault_steps(minutes, server.url, staff, list(tokens.values()), instances, worker=worker))
        schedule.start_publishes(model_dir, PUBLISHES, first=0.15, last=0.88)
        requests = RequestLog(out / "requests.csv")
        sampler = Sampler(t0=t0, server=server, worker=worker, requests=requests, instances=instances,
                          model_dir=model_dir, schedule=schedule)  # fmt: skip
        done = threading.Event()
        sampling = threading.Thread(target=sampler.run_until, args=(done,), daemon=True)
        sampling.start()

        time.sleep(max(t0 + seconds - time.time(), 0))
        if not schedule.join(timeout=900):
            schedule.errors.append("the fault schedule did not finish within 15 minutes of the run's end")
        overran = max(time.time() - (t0 + seconds), 0.0)
        load.send_signal(signal.SIGTERM)
        load.wait(timeout=180)
        done.set()
        sampling.join(timeout=60)
        close_connections()
        drained_s = wait_drained(DRAIN_TIMEOUT_S)
        requests.read_new()
        elapsed = time.time() - t0
        say(f"load stopped after {elapsed:.0f} s (the fault track overran the planned end by {overran:.0f} s); "
            f"outbox drained {drained_s} s after")  # fmt: skip

        server_log = server.log_text()
        windows = [w.as_row(t0) for w in sorted(schedule.windows, key=lambda w: w.start)]
        results = run_checks(sampler=sampler, schedule=schedule, windows=windows, requests=requests.requests, out=out,
                             server_log=server_log, worker_log=worker.log_text(),
                             redis_port=instances[1].port, slow_ms=args.slow_ms)  # fmt: skip
        write_csv(out / "samples.csv", sampler.samples)
        (out / "windows.json").write_text(json.dumps(windows, indent=2))
        write_chart(out / "soak.png", sampler.samples, windows, WORKERS)
    return report(out=out, minutes=minutes, elapsed=elapsed, requests=requests.requests, windows=windows,
                  results=results, rate=args.rate)  # fmt: skip


def report(*, out: Path, minutes: float, elapsed: float, requests: list[Any], windows: list[dict[str, Any]],
           results: dict[str, dict[str, Any]], rate: float) -> int:  # fmt: skip
    for name, result in results.items():
        say(f"{'PASS' if result['ok'] else 'FAIL'} {name}: {json.dumps(result, default=str)[:600]}")
    passed = all(r["ok"] for r in results.values())
    summary = {
        "bench": "soak",
        "minutes": minutes,
        "elapsed_s": round(elapsed, 1),
        "rate": rate,
        "workers": WORKERS,
        "load": overall(requests, elapsed),
        "faults": windows,
        "checks": results,
        "passed": passed,
        "out": str(out.relative_to(ROOT)),
        "machine_load_1m": round(os.getloadavg()[0], 2),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps(summary, default=lambda v: None if isinstance(v, float) and math.isnan(v) else str(v)))
    return 0 if passed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the load (faults scale with it)")
    parser.add_argument("--rate", type=float, default=40.0, help="readers' requests per second (writers add theirs)")
    parser.add_argument(
        "--slow-ms",
        type=float,
        default=5000.0,
        help="the slowest a request may be outside the fault windows (0: report only)",
    )
    args = parser.parse_args()
    if args.minutes < 3:
        parser.error("--minutes must be at least 3 (a Neo4j restart alone takes about a minute here)")
    return soak(args)


if __name__ == "__main__":
    sys.exit(main())
