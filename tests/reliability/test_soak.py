"""The soak, three minutes of it: ``bench/soak.py --minutes 3`` must pass every one of its checks.

The command starts its own PostgreSQL, Redis and Neo4j instances and the production server (2 workers), drives
a mixed load from a separate process while Redis, PostgreSQL and Neo4j are restarted, each type is retrained,
12 model versions are published and 1,000 connections arrive at once (each fault twice), and checks what it
measured (docs/reliability.md, "Soak"). Its last line is the JSON summary.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.reliability.support import REPO, process_env, record_figure

# A 3-minute load, plus ~1 minute to start the services and train, plus the fault track's overrun on a busy
# machine (up to ~1 minute here).
TIMEOUT_S = 900


def test_a_three_minute_soak_with_every_fault_passes_every_check() -> None:
    done = subprocess.run(
        # --slow-ms 0: the latency bound is the 30-minute run's; a test must not depend on the machine's speed.
        [sys.executable, str(REPO / "bench" / "soak.py"), "--minutes", "3", "--slow-ms", "0"],
        cwd=REPO, env=process_env(), capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    summary = json.loads(lines[-1])
    failed = {name: check for name, check in summary["checks"].items() if not check["ok"]}
    record_figure(
        "soak_3min",
        elapsed_s=summary["elapsed_s"],
        requests=summary["load"]["requests"],
        p50_ms=summary["load"]["p50_ms"],
        p99_ms=summary["load"]["p99_ms"],
        failed_by_kind=summary["load"]["failed_by_kind"],
        checks={name: check["ok"] for name, check in summary["checks"].items()},
        out=summary["out"],
    )
    assert not failed, json.dumps(failed, indent=1)[:6000]
    assert done.returncode == 0, done.stderr[-3000:]
