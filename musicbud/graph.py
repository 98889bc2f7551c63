"""The process's Neo4j drivers: one sync and one async driver per process, created lazily.

The async driver belongs to the event loop it was created on, so it is kept per loop (a server has one
loop per worker; tests may run several loops one after the other).

The server's version is read once per process, on the first use of a driver (``CALL dbms.components()``),
and a version our Cypher does not run on is refused from then on with ``GraphVersionUnsupported`` (503
``graph_version_unsupported``, logged once, named in /readyz) instead of failing at the first query with a
syntax error. ``SUPPORTED_VERSIONS`` says which, and docs/musicbud.md why.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time

import neo4j
from django.conf import settings

from musicbud.errors import GraphUnavailable, GraphVersionUnsupported

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_sync_driver: neo4j.Driver | None = None
_async_drivers: dict[asyncio.AbstractEventLoop, neo4j.AsyncDriver] = {}
# After the graph could not be reached, calls of this process fail at once for this long instead of each
# waiting out the driver's retries (NEO4J_CONNECTION_TIMEOUT, 5 s): in a soak with Neo4j down for 30 s, every
# call waiting held one of the worker's 6 threads, requests queued behind them for over 30 s, and throughput fell
# from ~50 to ~5 requests/s (bench/soak.py, docs/reliability.md). One call per interval probes again.
FAIL_FAST_S = 5.0
_unreachable_at: float | None = None


# Our Cypher needs 5.23 or later: variable-scope subqueries ``CALL (m) { ... }`` (5.23) and ``COUNT { ... }``
# (5.3). Neo4j's calendar versions (2025.01 and later) follow 5.26 and run Cypher 5 by default. 4.4 (the LTS
# MusicBud's backend code was written for) has neither construct: refused (docs/musicbud.md).
MIN_VERSION = (5, 23)
SUPPORTED_VERSIONS = "Neo4j 5.23 to 5.26 (tested: 5.26), and the calendar versions 2025.01 and later"
COMPONENTS_QUERY = (
    "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' RETURN versions[0] AS version"
)
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)(?:\.[0-9]+)?(?:[-+].*)?")
_server_version: str | None = None  # the version read, once it was found supported
_refusal: GraphVersionUnsupported | None = None


def version_supported(version: str) -> bool:
    """Whether our Cypher runs on a Neo4j server of this version (``"5.26.25"``, ``"2025.01.0"``, ``"4.4.30"``)."""
    match = _VERSION.fullmatch(version)
    if match is None:
        return False
    major, minor = int(match.group(1)), int(match.group(2))
    return major >= 2025 or (major == MIN_VERSION[0] and minor >= MIN_VERSION[1])


def _judge(records: list[neo4j.Record]) -> None:
    global _server_version, _refusal
    version = str(records[0]["version"]) if records else "unknown"
    if version_supported(version):
        _server_version = version
        return
    _refusal = GraphVersionUnsupported(
        f"The Neo4j server at {settings.NEO4J_URI} runs {version}; this service supports {SUPPORTED_VERSIONS}.",
        version=version,
    )
    logger.error("%s", _refusal.message)
    raise _refusal


def _check_version(driver: neo4j.Driver) -> None:
    """Read the server's version once per process; raise GraphVersionUnsupported for one we do not support.
    An unreachable server raises the driver's error (as the query would have) and is asked again next time."""
    if _refusal is not None:
        raise _refusal
    if _server_version is None:
        _judge(driver.execute_query(COMPONENTS_QUERY, routing_=neo4j.RoutingControl.READ).records)


async def _acheck_version(driver: neo4j.AsyncDriver) -> None:
    if _refusal is not None:
        raise _refusal
    if _server_version is None:
        _judge((await driver.execute_query(COMPONENTS_QUERY, routing_=neo4j.RoutingControl.READ)).records)


def server_version() -> str | None:
    """The version of the server this process talks to, once a driver read it (None before)."""
    return _server_version


def _forget_version() -> None:
    global _server_version, _refusal
    _server_version, _refusal = None, None


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
    """The process's sync driver, of a server whose version is supported (checked on first use)."""
    global _sync_driver
    with _lock:
        if _sync_driver is None:
            _sync_driver = neo4j.GraphDatabase.driver(_uri(), **_options())  # type: ignore[arg-type]
        driver = _sync_driver
    _check_version(driver)
    return driver


async def aget_async_driver() -> neo4j.AsyncDriver:
    """This loop's async driver, of a server whose version is supported (checked on first use)."""
    driver = get_async_driver()
    await _acheck_version(driver)
    return driver


def get_async_driver() -> neo4j.AsyncDriver:
    """This loop's async driver, unchecked: ``aget_async_driver`` is the checked one."""
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
    _forget_version()
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
