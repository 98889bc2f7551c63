"""Liveness and readiness probes for load balancers and orchestrators (no authentication)."""

from __future__ import annotations

import logging

import neo4j.exceptions
from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

from musicbud import cache, graph
from musicbud.cache import CacheUnavailable
from musicbud.errors import GraphVersionUnsupported

logger = logging.getLogger(__name__)


async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _check_graph() -> None:
    await (await graph.aget_async_driver()).verify_connectivity()


async def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        await sync_to_async(_check_database)()
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        await cache.ping()
        checks["cache"] = "ok"
    except CacheUnavailable as exc:
        checks["cache"] = f"error: {exc.__class__.__name__}"
    if graph.graph_configured():
        try:
            await _check_graph()
            checks["neo4j"] = "ok"
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
            checks["neo4j"] = f"error: {exc.__class__.__name__}"
        except GraphVersionUnsupported as exc:
            checks["neo4j"] = f"error: {exc.code}"
    ready = all(value == "ok" for value in checks.values())
    if not ready:
        logger.warning("not ready: %s", checks)
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
