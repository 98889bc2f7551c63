"""The embedded defaults under load: `make demo`'s settings, granian with 2 workers, a cached page, many connections.

Run: ``.venv/bin/python bench/embedded.py [--seconds 10] [--connections 64] [--caches file,memory]`` (needs wrk)

1. A demo in a temporary data folder, as ``make demo`` builds it (no DATABASE_URL, REDIS_URL or NEO4J_URI: SQLite,
   the embedded cache, the built-in store; DEBUG=true): ``migrate`` and ``demo_setup`` (~30 s).
2. For each embedded cache of ``--caches`` (``file``: the default, one SQLite file shared by the workers and every
   command; ``memory``: Django's local-memory cache, one per process): serves the demo with ``scripts/serve.sh``
   (granian, 2 workers), warms ``GET /v1/recommendations/movies/?limit=10`` of ``USERS`` users through each worker,
   then drives those cached pages with wrk (``bench/http_load.lua``) at ``--connections`` for ``--seconds``.
   ``THROTTLE_RATE_USER=1000000/second``: the counter never refuses anyone, but each user's window lasts one
   second, so windows end all the time under load: the moment at which a counter once expired between its
   two steps and answered 500 (issue 27).
3. Checks per cache: no non-2xx answer, no socket error, every answer ``X-Cache: hit``, no ``Traceback`` in the
   server's log. Prints readable lines, then one JSON object as the last line; exit status 1 if a check failed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path (see bench/http.py): drop it before ``http``.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from bench.http import run_wrk, stop_server, wait_ready, write_requests

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-embedded-signing-key-0123456789abcdef0123"
USERS = 200
PAGE = "/v1/recommendations/movies/?limit=10"
# Variables that would point the demo at services: `make demo` unsets them (its EMBEDDED line), and so do we.
SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "MUSICBUD_ENV_FILE")


def demo_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARS}
    return {
        **env, "MUSICBUD_DATA_DIR": str(data_dir), "RECOMMENDATIONS_SOURCE": "database", "DEBUG": "true",
        "SECRET_KEY": SECRET, "OPENBLAS_NUM_THREADS": "1", **extra,
    }  # fmt: skip


def token(user_id: int) -> str:
    """An access token as simplejwt issues one (the server is stateless: no user row is read)."""
    now = datetime.now(UTC)
    claims = {
        "token_type": "access", "user_id": str(user_id), "jti": uuid.uuid4().hex, "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()), "is_staff": False,
    }  # fmt: skip
    return jwt.encode(claims, SECRET, algorithm="HS256")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def setup_demo(data_dir: Path) -> float:
    started = time.perf_counter()
    env = demo_env(data_dir)
    for args in (["migrate", "--no-input"], ["demo_setup"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def warm(base: str, pairs: list[tuple[str, str]]) -> int:
    """Request every page a few times, a new connection each (so both workers see it); the errors seen.

    With the memory cache each worker computes and caches each page once for itself."""
    errors = 0
    for _ in range(4):
        for path, bearer in pairs:
            headers = {"Authorization": f"Bearer {bearer}", "Connection": "close"}
            errors += httpx.get(base + path, headers=headers, timeout=30).status_code != 200
    return errors


def run_cache(data_dir: Path, cache_name: str, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    log_path = data_dir / f"server-{cache_name}.log"
    env = demo_env(
        data_dir, EMBEDDED_CACHE=cache_name,
        THROTTLE_RATE_USER="1000000/second", LOG_LEVEL="WARNING",
    )  # fmt: skip
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            ["bash", "scripts/serve.sh", "127.0.0.1", str(port), str(args.workers)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, path="/healthz")
        pairs = [(PAGE, token(user_id)) for user_id in range(1, USERS + 1)]
        warm_errors = warm(base, pairs)
        requests_file = write_requests(data_dir / f"requests-{cache_name}.tsv", pairs)
        # Unmeasured: whatever page a worker has not cached yet (the memory cache) is cached now.
        run_wrk("warm-up", base, requests_file, seconds=3, connections=args.connections, threads=1, server=server)
        result = run_wrk(
            cache_name, base, requests_file, seconds=args.seconds, connections=args.connections, threads=1,
            server=server,
        )  # fmt: skip
    finally:
        stop_server(server)
    tracebacks = log_path.read_text(errors="replace").count("Traceback")
    print(f"{cache_name:<7} {result.line()}  warm-up errors {warm_errors}  tracebacks in the log {tracebacks}")
    return {
        "cache": cache_name, "rps": round(result.rps), "p50_ms": round(result.p50_ms, 2),
        "p99_ms": round(result.p99_ms, 2), "max_ms": round(result.max_ms, 1), "requests": result.requests,
        "not_2xx": result.not_2xx, "socket_errors": result.socket_errors, "hits": result.hits,
        "misses": result.misses, "tracebacks": tracebacks, "warm_errors": warm_errors,
        "server_cpu_ms_per_request": round(result.server_cpu_ms_per_request, 3),
        "ok": result.errors == 0 and result.misses == 0 and tracebacks == 0 and warm_errors == 0,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration per cache (default: 10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default: 64)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default: 2)")
    parser.add_argument("--caches", default="file,memory", help="embedded caches to serve with (default: file,memory)")
    args = parser.parse_args()
    caches = [name.strip() for name in args.caches.split(",") if name.strip()]
    with tempfile.TemporaryDirectory(prefix="musicbud-bench-embedded-") as tmp:
        data_dir = Path(tmp)
        setup_s = setup_demo(data_dir)
        print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; demo set up in {setup_s:.0f} s; "
              f"{args.connections} connections x {args.seconds:g} s, {args.workers} workers, {USERS} users' cached "
              f"{PAGE}", flush=True)  # fmt: skip
        results = [run_cache(data_dir, name, args) for name in caches]
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    ok = all(result["ok"] for result in results)
    print(json.dumps({"connections": args.connections, "seconds": args.seconds, "workers": args.workers,
                      "results": results, "ok": ok}))  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
