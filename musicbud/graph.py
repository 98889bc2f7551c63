"""The process's Neo4j drivers: one sync and one async driver per process, created lazily.

The async driver belongs to the event loop it was created on, so it is kept per loop (a server has one
loop per worker; tests may run several loops one after the other).
"""

from __future__ import annotations

import asyncio
import threading
import time

import neo4j
from django.conf import settings

from musicbud.errors import GraphUnavailable

_lock = threading.Lock()
_sync_driver: neo4j.Driver | None = None
_async_drivers: dict[asyncio.AbstractEventLoop, neo4j.AsyncDriver] = {}
# After the graph could not be reached, calls of this process fail at once for this long instead of each
# waiting out the driver's retries (NEO4J_CONNECTION_TIMEOUT, 5 s): in a soak with Neo4j down for 30 s, every
# call waiting held one of the worker's 6 threads, requests queued behind them for over 30 s, and throughput fell
# from ~50 to ~5 requests/s (bench/soak.py, docs/reliability.md). One call per interval probes again.
FAIL_FAST_S = 5.0
_unreachable_at: float | None = None


def _options() -> dict[str, object]:
    return {
        "auth": (settings.NEO4J_USER, settings.NEO4J_PASSWORD),
        "connection_timeout": settings.NEO4J_CONNECTION_TIMEOUT,
        "connection_acquisition_timeout": settings.NEO4J_CONNECTION_TIMEOUT,
        # Retries of a failed transaction must not turn an outage into a minute-long hang.
        "max_transaction_retry_time": settings.NEO4J_CONNECTION_TIMEOUT,
    }


def refuse_while_unreachable() -> None:
    """Raise GraphUnavailable at once if the graph could not be reached within FAIL_FAST_S (then let one through)."""
    global _unreachable_at
    failed_at = _unreachable_at
    if failed_at is None:
        return
    if time.monotonic() - failed_at < FAIL_FAST_S:
        raise GraphUnavailable("The interaction graph (Neo4j) could not be reached a moment ago.")
    _unreachable_at = None  # the next call probes; a failure starts a new interval


def note_unreachable() -> None:
    global _unreachable_at
    _unreachable_at = time.monotonic()


def forget_unreachable() -> None:
    """Try the graph on the next call (a new driver, or a test pointing at another server)."""
    global _unreachable_at
    _unreachable_at = None


def _uri() -> str:
    if not settings.NEO4J_URI:
        raise GraphUnavailable("NEO4J_URI is not configured.")
    return str(settings.NEO4J_URI)


def graph_configured() -> bool:
    return bool(settings.NEO4J_URI)


def get_driver() -> neo4j.Driver:
    global _sync_driver
    with _lock:
        if _sync_driver is None:
            _sync_driver = neo4j.GraphDatabase.driver(_uri(), **_options())  # type: ignore[arg-type]
        return _sync_driver


def get_async_driver() -> neo4j.AsyncDriver:
    loop = asyncio.get_running_loop()
    with _lock:
        driver = _async_drivers.get(loop)
        if driver is None:
            for stale_loop in [known for known in _async_drivers if known.is_closed()]:
                del _async_drivers[stale_loop]
            driver = neo4j.AsyncGraphDatabase.driver(_uri(), **_options())  # type: ignore[arg-type]
            _async_drivers[loop] = driver
        return driver


def close_sync_driver() -> None:
    global _sync_driver
    forget_unreachable()  # a new driver (perhaps to another server) starts without the old one's failures
    with _lock:
        driver, _sync_driver = _sync_driver, None
    if driver is not None:
        driver.close()


async def close_async_driver() -> None:
    forget_unreachable()
    loop = asyncio.get_running_loop()
    with _lock:
        driver = _async_drivers.pop(loop, None)
    if driver is not None:
        await driver.close()
