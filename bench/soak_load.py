"""The soak's load generator: a separate process that drives the live server with a mixed, paced load.

Run by ``bench/soak.py`` (never by hand): ``soak_load.py PLAN.json OUT_DIR``. The plan names the server, the
readers (seeded users, with access tokens minted by the soak), the writers (users without seeded history, who
log in with their password and refresh their tokens), the request rate and the deadline.

What it sends, paced to ``rate`` requests per second over all reader tasks (``OPS`` gives the mix):
recommendation pages served from the cache (the same page again) and fresh ones (an ``exclude`` never used
before, so the cache cannot have it), every type; every type at once; similar items; buds; the popular,
trending and latest lists; the model status. Each writer, one batch at a time, sends event batches with views,
clicks, skips and every interaction kind its types take (like, unlike, dislike, watched, watchlist_add/remove,
rated, top_list_add/remove), retrying a batch that was not answered 2xx with the same client ids until it is
(a real client's retry), then reads its own (now invalidated) recommendations. Token refreshes and logins run
beside them.

Writes into OUT_DIR:
- ``requests.csv``: one line per request: start (epoch s), duration (ms), operation, status (0: no answer),
  error code (the body's ``error.code``, or the exception's class name);
- ``acked.jsonl``: every event batch answered 2xx, in the order each writer sent them.
Stops at the deadline, or at SIGTERM: no new request then, but a writer's unacknowledged batch is retried until
acknowledged (at most ``FINISH_S`` more), so every batch the soak knows of has a known outcome.
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
import signal
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

API = "/v1/recommendations"
TYPES = ("movies", "manga", "anime")
# Operation -> weight in the readers' mix (the share of paced requests). Cached pages dominate, as in
# production (bench/http.py: a hit is ~10x cheaper than a miss); every other read is represented.
OPS: dict[str, int] = {
    "page_cached": 30,
    "page_fresh": 12,
    "all_types": 6,
    "similar": 10,
    "buds": 6,
    "list_popular": 6,
    "list_trending": 6,
    "list_latest": 6,
    "status": 3,
}
# Interaction-changing events per type (the data model's kinds, docs/api.md), and analytics-only ones.
CHANGES: dict[str, tuple[str, ...]] = {
    "movies": ("like", "unlike", "dislike", "watched", "watchlist_add", "watchlist_remove", "rated"),
    "manga": ("like", "unlike", "dislike", "rated", "top_list_add", "top_list_remove"),
    "anime": ("like", "unlike", "dislike", "watched", "rated", "top_list_add", "top_list_remove"),
}
ANALYTICS_ONLY = ("view", "click", "skip")
# A writer's items per type: few, so one item gets several changes (a like, then an unlike) whose order matters.
WRITER_ITEMS = 12
BATCH_MAX = 12
WRITER_PAUSE_S = (0.5, 1.5)
REFRESH_EVERY_S = 4.0
LOGIN_EVERY_S = 45.0
RETRY_PAUSE_S = 0.5
# After the stop: how long a writer may keep retrying its last batch (longer than any fault's recovery).
FINISH_S = 90.0
# Longer than any bound of the server's own (NEO4J_QUERY_TIMEOUT, 60 s): the load sees every answer the server
# gives, and the slowest ones show in p99 and the summary's max_ms.
TIMEOUT_S = 75.0


@dataclass
class Writer:
    user_id: int
    username: str
    password: str
    access: str = ""
    refresh: str = ""
    sequence: int = 0


@dataclass
class Plan:
    url: str
    deadline: float
    rate: float
    reader_tasks: int
    readers: dict[int, str]  # user id -> access token
    writers: list[Writer]
    seed: int

    @classmethod
    def read(cls, path: Path) -> Plan:
        raw = json.loads(path.read_text())
        return cls(
            url=raw["url"],
            deadline=float(raw["deadline"]),
            rate=float(raw["rate"]),
            reader_tasks=int(raw["reader_tasks"]),
            readers={int(k): v for k, v in raw["readers"].items()},
            writers=[Writer(**w) for w in raw["writers"]],
            seed=int(raw["seed"]),
        )


@dataclass
class Recorder:
    """Appends request lines and acknowledged batches; flushed by ``flush`` (every second) and at the end."""

    out: Path
    _requests: Any = None
    _acked: Any = None
    _csv: Any = None
    counts: dict[str, int] = field(default_factory=dict)

    def open(self) -> None:
        self._requests = (self.out / "requests.csv").open("w", newline="")
        self._csv = csv.writer(self._requests)
        self._acked = (self.out / "acked.jsonl").open("w")

    def request(self, started: float, ms: float, op: str, status: int, code: str) -> None:
        self._csv.writerow([f"{started:.3f}", f"{ms:.1f}", op, status, code])
        self.counts[op] = self.counts.get(op, 0) + 1

    def acked(self, user_id: int, status: int, events: list[dict[str, Any]]) -> None:
        self._acked.write(json.dumps({"user_id": user_id, "status": status, "events": events}) + "\n")

    def flush(self) -> None:
        self._requests.flush()
        self._acked.flush()

    def close(self) -> None:
        self.flush()
        self._requests.close()
        self._acked.close()


def error_code(response: httpx.Response) -> str:
    if response.is_success:
        return ""
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unparsed"


class Load:
    def __init__(self, plan: Plan, recorder: Recorder) -> None:
        self.plan = plan
        self.rec = recorder
        self.rng = random.Random(plan.seed)
        self.stopping = asyncio.Event()
        self.items: dict[str, list[str]] = {}
        self.fresh = 0
        self._next_slot = time.monotonic()
        # More connections than tasks: a task never waits for a connection another task holds.
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self.http = httpx.AsyncClient(base_url=plan.url, timeout=TIMEOUT_S, limits=limits)

    def running(self) -> bool:
        return not self.stopping.is_set() and time.time() < self.plan.deadline

    async def call(self, op: str, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response | None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started, t0 = time.time(), time.perf_counter()
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            self.rec.request(started, (time.perf_counter() - t0) * 1000, op, 0, exc.__class__.__name__)
            return None
        self.rec.request(started, (time.perf_counter() - t0) * 1000, op, response.status_code, error_code(response))
        return response

    async def pace(self) -> None:
        """One slot of the global rate: tasks take turns, so the whole load is ``rate`` requests per second."""
        now = time.monotonic()
        self._next_slot = max(self._next_slot + 1.0 / self.plan.rate, now)
        await asyncio.sleep(self._next_slot - now)

    # --- setup ----------------------------------------------------------------------------------------

    async def load_items(self) -> None:
        """Item ids per type from the popular list (ids the models know: similar items has answers)."""
        token = next(iter(self.plan.readers.values()))
        for ct in TYPES:
            for _ in range(30):
                response = await self.call("setup", "GET", f"{API}/{ct}/popular/", token, params={"limit": 60})
                if response is not None and response.status_code == 200:
                    self.items[ct] = [item["item_id"] for item in response.json()["items"]]
                    break
                await asyncio.sleep(1)
            if not self.items.get(ct):
                raise RuntimeError(f"no {ct} items from the popular list")

    async def login(self, writer: Writer) -> bool:
        body = {"username": writer.username, "password": writer.password}
        response = await self.call("login", "POST", "/v1/auth/token/", None, json=body)
        if response is None or response.status_code != 200:
            return False
        tokens = response.json()
        writer.access, writer.refresh = tokens["access"], tokens["refresh"]
        return True

    # --- readers --------------------------------------------------------------------------------------

    def read_request(self, op: str, user_id: int) -> tuple[str, dict[str, Any]]:
        ct = self.rng.choice(TYPES)
        if op == "page_cached":
            return f"{API}/{ct}/", {"limit": 10}
        if op == "page_fresh":
            self.fresh += 1
            # An exclude list never sent before: a cache miss, the page computed (scoring, titles, filters).
            return f"{API}/{ct}/", {"limit": 10, "offset": self.rng.choice((0, 10)), "exclude": self.fresh_id(ct)}
        if op == "all_types":
            return f"{API}/", {"limit": 5}
        if op == "similar":
            return f"{API}/{ct}/{self.rng.choice(self.items[ct])}/similar/", {"limit": 10}
        if op == "buds":
            return f"{API}/buds/", {"type": self.rng.choice(("all", *TYPES)), "limit": 10}
        if op.startswith("list_"):
            return f"{API}/{ct}/{op.removeprefix('list_')}/", {"limit": 10, "offset": self.rng.choice((0, 10, 20))}
        return f"{API}/status/", {}

    def fresh_id(self, ct: str) -> str:
        """A well-formed id of the type that no request used before (and no catalog item has)."""
        number = 900_000_000 + self.fresh
        return f"tt{number}" if ct == "movies" else str(number)

    async def reader(self) -> None:
        ops, weights = list(OPS), list(OPS.values())
        users = list(self.plan.readers)
        while self.running():
            await self.pace()
            op = self.rng.choices(ops, weights)[0]
            user_id = self.rng.choice(users)
            path, params = self.read_request(op, user_id)
            await self.call(op, "GET", path, self.plan.readers[user_id], params=params)

    # --- writers --------------------------------------------------------------------------------------

    def event(self, writer: Writer, ct: str, items: list[str]) -> dict[str, Any]:
        writer.sequence += 1
        kind = self.rng.choice(CHANGES[ct] + ANALYTICS_ONLY)
        event: dict[str, Any] = {
            "client_event_id": f"soak-{writer.user_id}-{writer.sequence}-{uuid.uuid4().hex[:8]}",
            "content_type": ct,
            "item_id": self.rng.choice(items),
            "event": kind,
        }
        if kind in ("view", "click"):
            event["position"] = self.rng.randrange(10)
        if kind == "rated":
            event["value"] = float(self.rng.randint(1, 10 if ct != "movies" else 5))
        if kind == "top_list_add":
            event["rank"] = self.rng.randint(1, 10)
        return event

    async def send_until_acked(self, writer: Writer, events: list[dict[str, Any]]) -> None:
        """A real client's retry: the same batch (same client ids) until it is answered 2xx."""
        give_up = self.plan.deadline + FINISH_S
        while time.time() < give_up:
            response = await self.call("events", "POST", f"{API}/events/", writer.access, json={"events": events})
            if response is not None and response.is_success:
                self.rec.acked(writer.user_id, response.status_code, events)
                return
            if response is not None and response.status_code == 401:
                await self.login(writer)
            await asyncio.sleep(RETRY_PAUSE_S)
        self.rec.acked(writer.user_id, 0, events)  # never acknowledged: the soak's check reports it

    async def writer(self, writer: Writer) -> None:
        rng = random.Random(f"{self.plan.seed}-{writer.user_id}")
        mine = {ct: rng.sample(self.items[ct], min(WRITER_ITEMS, len(self.items[ct]))) for ct in TYPES}
        while not await self.login(writer):
            if not self.running():
                return
            await asyncio.sleep(1)
        while self.running():
            ct = rng.choice(TYPES)
            events = [self.event(writer, ct, mine[ct]) for _ in range(rng.randint(1, BATCH_MAX))]
            await self.send_until_acked(writer, events)
            if self.running():
                # The writer's pages were invalidated by the batch: this one is computed with the new history.
                await self.call("page_writer", "GET", f"{API}/{ct}/", writer.access, params={"limit": 10})
            await asyncio.sleep(rng.uniform(*WRITER_PAUSE_S))

    async def refresher(self) -> None:
        last_login = time.monotonic()
        while self.running():
            await asyncio.sleep(REFRESH_EVERY_S)
            writer = self.rng.choice(self.plan.writers)
            if writer.refresh:
                response = await self.call("refresh", "POST", "/v1/auth/token/refresh/", None,
                                           json={"refresh": writer.refresh})  # fmt: skip
                if response is not None and response.status_code == 200:
                    writer.access = response.json()["access"]
            if time.monotonic() - last_login > LOGIN_EVERY_S:
                last_login = time.monotonic()
                await self.login(self.rng.choice(self.plan.writers))

    async def flusher(self) -> None:
        while self.running():
            await asyncio.sleep(1)
            self.rec.flush()

    async def run(self) -> None:
        await self.load_items()
        tasks: list[Callable[[], Any]] = [self.reader for _ in range(self.plan.reader_tasks)]
        tasks += [self.refresher, self.flusher]
        await asyncio.gather(*(task() for task in tasks), *(self.writer(w) for w in self.plan.writers))
        await self.http.aclose()


def main() -> int:
    plan = Plan.read(Path(sys.argv[1]))
    recorder = Recorder(Path(sys.argv[2]))
    recorder.open()
    load = Load(plan, recorder)

    async def run() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, load.stopping.set)
        await load.run()

    try:
        asyncio.run(run())
    finally:
        recorder.close()
    print(json.dumps({"requests": recorder.counts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
