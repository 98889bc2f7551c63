"""The process's Neo4j drivers: one sync and one async driver per process, created lazily.

The async driver belongs to the event loop it was created on, so it is kept per loop (a server has one
loop per worker; tests may run several loops one after the other).
"""

from __future__ import annotations

import asyncio
import threading

import neo4j
from django.conf import settings

from musicbud.errors import GraphUnavailable

_lock = threading.Lock()
_sync_driver: neo4j.Driver | None = None
_async_drivers: dict[asyncio.AbstractEventLoop, neo4j.AsyncDriver] = {}


def _options() -> dict[str, object]:
    return {
        "auth": (settings.NEO4J_USER, settings.NEO4J_PASSWORD),
        "connection_timeout": settings.NEO4J_CONNECTION_TIMEOUT,
        "connection_acquisition_timeout": settings.NEO4J_CONNECTION_TIMEOUT,
        # Retries of a failed transaction must not turn an outage into a minute-long hang.
        "max_transaction_retry_time": settings.NEO4J_CONNECTION_TIMEOUT,
    }


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
    with _lock:
        driver, _sync_driver = _sync_driver, None
    if driver is not None:
        driver.close()


async def close_async_driver() -> None:
    loop = asyncio.get_running_loop()
    with _lock:
        driver = _async_drivers.pop(loop, None)
    if driver is not None:
        await driver.close()
