"""The soak's fault schedule: what goes wrong, when, and the window each fault occupies.

Two tracks run beside the load. The fault track runs its steps one after the other, each at its planned share
of the run or when the previous one is over (a Neo4j restart is mostly its JVM's start, 40-60 s here, so in a
3-minute soak the later steps wait for it): Redis, PostgreSQL and Neo4j each stopped and started again (an
*outage*: from the stop until /readyz answers 200 again, plus a grace for requests in flight), a retrain of each
type through the staff API (run by the worker), the worker killed (SIGKILL) and started again, and a burst of
1,000 connections at once. The publish track saves a new model version
of one type (the production ``save_artifact``, which keeps 3 and deletes older ones) at evenly spaced times.

Only an outage or the burst (a *fault window*) may cost requests, and only a documented 503 (docs/api.md: a
dependency down, or a database connection not free within the pool's 10 s); a retrain, a publish or the worker's
restart may cost none (the web process never waits on the worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.support import ServiceInstance, WorkerProcess

# Requests in flight when a dependency came back were sent while it was down: the window covers them.
GRACE_S = 5.0
READY_TIMEOUT_S = 120.0
TRAINING_TIMEOUT_S = 600.0
BURST_CONNECTIONS = 1000
BURST_ROUNDS = 2
BURST_TIMEOUT_S = 120.0
# The documented 503 codes (docs/api.md): what an outage, or an overload the server sheds, may answer.
SHED_CODES = frozenset(
    {"graph_unavailable", "database_unavailable", "events_unavailable", "model_corrupt", "dependency_unavailable"}
)


@dataclass
class Window:
    name: str
    outage: bool
    start: float  # epoch seconds
    end: float = 0.0
    cycle: int = 0  # which round of the fault track; 0: the publish track
    figures: dict[str, Any] = field(default_factory=dict)
    ok: bool = True

    def covers(self, started: float, ended: float) -> bool:
        return started <= self.end and ended >= self.start

    def as_row(self, t0: float) -> dict[str, Any]:
        return {"name": self.name, "round": self.cycle, "outage": self.outage, "start_s": round(self.start - t0, 1),
                "end_s": round(self.end - t0, 1), "ok": self.ok, **self.figures}  # fmt: skip


@dataclass(frozen=True)
class Step:
    name: str
    at: float  # share of the run (0..1) at which it starts at the earliest
    run: Callable[[Window], None]
    outage: bool = False
    cycle: int = 1


def down_seconds(minutes: float) -> float:
    """How long a dependency stays down: 2% of the run, 5..30 s (30 s: three times the 10 s pool timeout)."""
    return min(max(minutes * 60 * 0.02, 5.0), 30.0)


def wait_ready(url: str, timeout: float = READY_TIMEOUT_S) -> float:
    """Seconds until /readyz answers 200 (every dependency reachable from the server again)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass  # the server is busy or the dependency is still coming back
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready {timeout:.0f} s after a restart")


def restart(instance: ServiceInstance, *, down_s: float, url: str) -> Callable[[Window], None]:
    def run(window: Window) -> None:
        instance.stop()
        time.sleep(down_s)
        started = time.monotonic()
        instance.start()
        window.figures["down_s"] = round(down_s, 1)
        window.figures["start_took_s"] = round(time.monotonic() - started, 1)
        window.figures["ready_after_start_s"] = round(wait_ready(url), 1)

    return run


def restart_worker(worker: WorkerProcess, *, down_s: float) -> Callable[[Window], None]:
    """The worker SIGKILLed (no handler runs: a killed machine, the OOM killer), then started again after
    ``down_s``: meanwhile the events' drains wait in the queue, and the restarted worker applies them."""

    def run(window: Window) -> None:
        window.figures["killed_pid"] = worker.pid
        worker.kill()
        time.sleep(down_s)
        started = time.monotonic()
        worker.start()
        window.figures.update(down_s=round(down_s, 1), start_took_s=round(time.monotonic() - started, 1),
                              pid=worker.pid)  # fmt: skip

    return run


def retrain(url: str, staff_token: str, content_type: str) -> Callable[[Window], None]:
    """POST /train/models/ as staff, then poll the run until it finishes; the run must succeed."""

    def run(window: Window) -> None:
        headers = {"Authorization": f"Bearer {staff_token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            started = http.post("/v1/recommendations/train/models/", json={"content_types": [content_type]})
            window.figures["post_status"] = started.status_code
            if started.status_code != 202:
                window.ok = False
                window.figures["error"] = started.text[:300]
                return
            run_id = started.json()["runs"][0]["id"]
            deadline = time.monotonic() + TRAINING_TIMEOUT_S
            body: dict[str, Any] = {}
            while time.monotonic() < deadline:
                time.sleep(1)
                body = http.get(f"/v1/recommendations/train/models/{run_id}/").json()
                if body.get("status") != "running":
                    break
            window.ok = body.get("status") == "succeeded"
            window.figures.update(
                run_id=run_id,
                status=body.get("status"),
                duration_s=body.get("duration_s"),
                model_version=body.get("model_version"),
                error=(body.get("error") or "")[:300],
            )

    return run


def _error_code(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unparsed"


async def _burst(host: str, port: int, requests: list[bytes]) -> dict[str, Any]:
    """Open every connection first (all open at once), then send each its requests (keep-alive)."""
    opened = asyncio.Event()
    connected = 0
    statuses: dict[str, int] = {}
    latencies: list[float] = []

    async def one(request: bytes) -> None:
        nonlocal connected
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            statuses[f"0 {exc.__class__.__name__}"] = statuses.get(f"0 {exc.__class__.__name__}", 0) + 1
            return
        connected += 1
        if connected == len(requests):
            opened.set()
        # If some never connect, send anyway: those are counted as failures.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(opened.wait(), timeout=30)
        try:
            for _ in range(BURST_ROUNDS):
                t0 = time.perf_counter()
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                latencies.append((time.perf_counter() - t0) * 1000)
                status = head.split(b" ", 2)[1].decode()
                if status != "200":
                    status = f"{status} {_error_code(body)}"
                statuses[status] = statuses.get(status, 0) + 1
        except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError) as exc:
            statuses[f"0 {exc.__class__.__name__}"] = statuses.get(f"0 {exc.__class__.__name__}", 0) + 1
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(one(r) for r in requests)), timeout=BURST_TIMEOUT_S)
    ms = sorted(latencies)
    return {
        "connections": len(requests),
        "open_at_once": connected,
        "responses": statuses,
        "p50_ms": round(ms[len(ms) // 2], 1) if ms else None,
        "p99_ms": round(ms[int(len(ms) * 0.99)], 1) if ms else None,
    }


def _shed(status: str) -> bool:
    code, _, error = status.partition(" ")
    return code == "503" and error in SHED_CODES


def burst(url: str, tokens: list[str], path: str) -> Callable[[Window], None]:
    """BURST_CONNECTIONS connections open at once, each sending a cached page request BURST_ROUNDS times."""
    host, port = url.removeprefix("http://").split(":")

    def run(window: Window) -> None:
        requests = [
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {tokens[n % len(tokens)]}\r\n\r\n"
            ).encode()
            for n in range(BURST_CONNECTIONS)
        ]
        figures = asyncio.run(_burst(host, int(port), requests))
        window.figures.update(figures)
        # Overload may be shed with a documented 503 (a page to compute waits at most the pool's 10 s for a
        # database connection); anything else, or no answer, fails the step.
        answered = sum(n for status, n in figures["responses"].items() if status == "200" or _shed(status))
        window.ok = answered == BURST_CONNECTIONS * BURST_ROUNDS

    return run


def publish(model_dir: Path, content_type: str) -> str:
    """The served model of a type saved again under a new version: what a training run publishes."""
    from recommendations.engine import load_artifact, save_artifact
    from recommendations.engine.artifact import CURRENT, new_version

    type_dir = model_dir / content_type
    artifact = load_artifact(type_dir / (type_dir / CURRENT).read_text().strip())
    version = new_version()
    save_artifact(
        dataclasses.replace(artifact, metadata={**artifact.metadata, "version": version}), model_dir, content_type
    )
    return version


class Schedule:
    """Runs the fault track and the publish track in threads; collects their windows."""

    def __init__(self, t0: float, seconds: float) -> None:
        self.t0 = t0
        self.seconds = seconds
        self.windows: list[Window] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _wait_until(self, share: float) -> None:
        delay = self.t0 + share * self.seconds - time.time()
        if delay > 0:
            time.sleep(delay)

    def _run(self, name: str, outage: bool, run: Callable[[Window], None], cycle: int = 0) -> Window:
        window = Window(name, outage, time.time(), cycle=cycle)
        print(f"[soak] {name} (round {cycle}) at {window.start - self.t0:.0f} s", flush=True)
        try:
            run(window)
        except Exception as exc:  # noqa: BLE001  # a failed step is a failed check, never a crashed soak
            window.ok = False
            window.figures["error"] = f"{exc.__class__.__name__}: {exc}"[:300]
        window.end = time.time() + (GRACE_S if outage else 0.0)
        with self._lock:
            self.windows.append(window)
        print(f"[soak] {name} done in {window.end - window.start:.0f} s, ok={window.ok} {window.figures}", flush=True)
        return window

    def start_faults(self, steps: list[Step]) -> None:
        def track() -> None:
            for step in steps:
                self._wait_until(step.at)
                self._run(step.name, step.outage, step.run, step.cycle)

        self._start(track)

    def start_publishes(self, model_dir: Path, count: int, first: float, last: float) -> None:
        types = ("movies", "manga", "anime")

        def track() -> None:
            for n in range(count):
                self._wait_until(first + (last - first) * n / max(count - 1, 1))
                ct = types[n % len(types)]

                def run(window: Window, ct: str = ct) -> None:
                    window.figures["version"] = publish(model_dir, ct)

                self._run(f"publish {ct}", False, run)

        self._start(track)

    def _start(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        return not any(thread.is_alive() for thread in self._threads)
