"""/healthz and /readyz through the real URL routes."""

from __future__ import annotations

import httpx
import pytest
from django.test import override_settings

from tests.conftest import asgi_client


@pytest.fixture
def client() -> httpx.AsyncClient:
    return asgi_client()


@pytest.mark.django_db
async def test_healthz_answers_ok_without_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
async def test_readyz_reports_every_configured_dependency_as_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["cache"] == "ok"


@pytest.mark.django_db
async def test_readyz_is_503_and_names_neo4j_when_the_graph_is_unreachable(client: httpx.AsyncClient) -> None:
    from musicbud import graph

    # Port 1 on loopback refuses connections at once: a real unreachable server, no mock.
    with override_settings(NEO4J_URI="bolt://127.0.0.1:1", NEO4J_PASSWORD="x", NEO4J_CONNECTION_TIMEOUT=1):
        await graph.close_async_driver()
        try:
            response = await client.get("/readyz")
        finally:
            await graph.close_async_driver()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["neo4j"].startswith("error:")
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/no/such/page", "/v1/no/such/page"])
async def test_unknown_urls_get_the_json_error_format(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
