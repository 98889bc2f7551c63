"""What the soak samples every 10 s, and how it writes the samples: CSV and a PNG chart.

From Linux /proc (the server's processes): resident memory (total, anonymous = heap, file = mapped pages),
open file descriptors, and the model files each worker has memory-mapped (by version, and those of versions
already deleted from disk, which a worker that never let go of an old model would keep). From the services:
Redis' key count and memory, PostgreSQL's client connections and the interaction outbox. From the load
generator's request log: throughput, latency percentiles and errors by kind.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import redis

SAMPLE_S = 10.0


def descendants(pid: int) -> list[int]:
    """The process and every process below it (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue  # the thread or process ended meanwhile
    return found


def server_workers(main_pid: int) -> list[int]:
    """granian's worker processes (its main process only supervises them)."""
    return sorted(pid for pid in descendants(main_pid) if pid != main_pid)


@dataclass(frozen=True)
class ProcessStats:
    rss_mb: float
    anon_mb: float
    file_mb: float
    fds: int
    mapped_versions: int  # model versions with at least one file mapped
    deleted_mapped: int  # mapped model files whose version was deleted from disk


def _status_kb(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            values[name] = int(rest.split()[0])
    return values


def model_mappings(pid: int, model_dir: Path) -> tuple[set[str], set[str]]:
    """(versions mapped, files of deleted versions still mapped) of one process, from /proc/PID/maps."""
    versions, deleted = set(), set()
    prefix = str(model_dir) + "/"
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 6 or not parts[5].startswith(prefix):
            continue
        path = parts[5]
        relative = path.removeprefix(prefix).removesuffix(" (deleted)").split("/")
        if len(relative) >= 3:
            versions.add(f"{relative[0]}/{relative[1]}")
        if path.endswith(" (deleted)"):
            deleted.add(path.removesuffix(" (deleted)"))
    return versions, deleted


def process_stats(pid: int, model_dir: Path) -> ProcessStats:
    kb = _status_kb(pid)
    versions, deleted = model_mappings(pid, model_dir)
    return ProcessStats(
        rss_mb=kb.get("VmRSS", 0) / 1024,
        anon_mb=kb.get("RssAnon", 0) / 1024,
        file_mb=kb.get("RssFile", 0) / 1024,
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        mapped_versions=len(versions),
        deleted_mapped=len(deleted),
    )


def redis_stats(port: int) -> tuple[float, float]:
    """(keys, used memory in MB); NaN while Redis does not answer (its restart)."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)
    try:
        keys = float(client.dbsize())
        memory = float(client.info("memory")["used_memory"]) / 2**20
        return keys, memory
    except redis.RedisError:
        return float("nan"), float("nan")
    finally:
        client.close()


def postgres_stats(url: str) -> tuple[float, float]:
    """(client connections of the server's database, but this one; rows in the outbox); NaN while it is down."""
    try:
        with psycopg.connect(url, connect_timeout=2) as db:
            row = db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()
            pending = db.execute("SELECT count(*) FROM recommendations_pendinginteraction").fetchone()
            return float(row[0] if row else 0), float(pending[0] if pending else 0)
    except psycopg.Error:
        return float("nan"), float("nan")


@dataclass(frozen=True)
class Request:
    started: float  # epoch seconds
    ms: float
    op: str
    status: int  # 0: no answer (the exception's class name is the code)
    code: str

    @property
    def ended(self) -> float:
        return self.started + self.ms / 1000

    @property
    def failed(self) -> bool:
        return not 200 <= self.status < 300

    @property
    def kind(self) -> str:
        """How it failed, e.g. ``503 database_unavailable`` or ``0 ConnectError``."""
        return f"{self.status} {self.code}".strip()


@dataclass
class RequestLog:
    """Reads the load generator's requests.csv as it grows (complete lines only)."""

    path: Path
    _offset: int = 0
    requests: list[Request] = field(default_factory=list)

    def read_new(self) -> list[Request]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        new = [
            Request(float(row[0]), float(row[1]), row[2], int(row[3]), row[4])
            for row in csv.reader(complete.decode().splitlines())
        ]
        self.requests.extend(new)
        return new


def request_figures(requests: list[Request], seconds: float) -> dict[str, Any]:
    """Throughput, latency percentiles and errors of one interval's requests."""
    ms = np.array([r.ms for r in requests]) if requests else np.zeros(0)
    errors = Counter(r.kind for r in requests if r.failed)
    return {
        "requests": len(requests),
        "rps": round(len(requests) / seconds, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else float("nan"),
        "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else float("nan"),
        "errors": sum(errors.values()),
        "errors_by_kind": ";".join(f"{kind}={n}" for kind, n in sorted(errors.items())),
    }


def write_csv(path: Path, samples: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for sample in samples:
        columns += [key for key in sample if key not in columns]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(samples)


def write_chart(path: Path, samples: list[dict[str, Any]], windows: list[dict[str, Any]], workers: int) -> None:
    """Five panels over time, the fault windows shaded and named."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = np.array([s["t_s"] / 60 for s in samples])

    def column(name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.array([float(s.get(name, "nan")) for s in samples])

    fig, axes = plt.subplots(5, 1, figsize=(12, 14), sharex=True)
    axes[0].plot(minutes, column("rps"), label="requests/s")
    axes[0].plot(minutes, column("errors") / SAMPLE_S, label="failed requests/s", color="tab:red")
    axes[0].set_ylabel("throughput")
    axes[1].plot(minutes, column("p50_ms"), label="p50")
    axes[1].plot(minutes, column("p99_ms"), label="p99")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("latency (ms)")
    for w in range(workers):
        axes[2].plot(minutes, column(f"w{w}_rss_mb"), label=f"worker {w} RSS")
        axes[2].plot(minutes, column(f"w{w}_anon_mb"), linestyle="--", label=f"worker {w} anonymous")
        axes[3].plot(minutes, column(f"w{w}_fds"), label=f"worker {w} open fds")
    axes[2].set_ylabel("memory (MB)")
    axes[3].plot(minutes, column("pg_connections"), label="PostgreSQL connections")
    axes[3].plot(minutes, column("deleted_mapped"), label="mapped files of deleted models")
    axes[3].set_ylabel("count")
    axes[4].plot(minutes, column("redis_keys"), label="Redis keys")
    twin = axes[4].twinx()
    twin.plot(minutes, column("redis_mb"), color="tab:orange", label="Redis memory (MB)")
    twin.set_ylabel("Redis MB")
    axes[4].set_ylabel("Redis keys")
    axes[4].set_xlabel("minutes")
    for window in windows:
        start, end = window["start_s"] / 60, window["end_s"] / 60
        color = "tab:red" if window["outage"] else "tab:gray"
        for ax in axes:
            ax.axvspan(start, max(end, start + 0.05), color=color, alpha=0.12)
        axes[0].text(start, axes[0].get_ylim()[1] * 0.95, window["name"], rotation=90, va="top", fontsize=7)
    for ax in axes:
        ax.legend(loc="upper left", fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(
        "MusicBud soak: red = fault window (a dependency down until ready again, or the burst), "
        "grey = publish or retrain"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
