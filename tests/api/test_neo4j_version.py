"""The Neo4j server's version is read on first use and one our Cypher does not run on is refused, clearly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from musicbud import graph
from musicbud.errors import GraphVersionUnsupported
from tests.api.conftest import SEEDED_USER_ID, Api, make_user, obtain_tokens
from tests.conftest import asgi_client


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("5.26.25", True),
        ("5.23.0", True),
        ("2025.01.0", True),
        ("2025.10.1", True),
        ("5.22.0", False),  # no CALL (m) { ... }
        ("4.4.30", False),  # the LTS MusicBud's backend code was written for: no COUNT { }, no CALL (m) { }
        ("3.5.35", False),
        ("", False),
        ("dev", False),
    ],
)
def test_which_versions_are_supported(version: str, supported: bool) -> None:
    assert graph.version_supported(version) is supported


@pytest.fixture
def fresh_driver(neo4j_settings: None) -> Iterator[None]:
    graph.close_sync_driver()
    yield
    graph.close_sync_driver()


def test_the_real_servers_version_is_read_on_first_use_and_accepted(fresh_driver: None) -> None:
    assert graph.server_version() is None
    graph.get_driver()
    version = graph.server_version()
    assert version is not None
    assert version.startswith("5.")


@pytest.fixture
def server_says_4_4(monkeypatch: pytest.MonkeyPatch, fresh_driver: None) -> None:
    """The real server, asked a query that answers as a 4.4 server's dbms.components() would (no 4.4 here)."""
    monkeypatch.setattr(graph, "COMPONENTS_QUERY", "RETURN '4.4.30' AS version")


@pytest.mark.usefixtures("server_says_4_4")
def test_an_unsupported_server_is_refused_with_its_version_and_the_supported_ones() -> None:
    with pytest.raises(GraphVersionUnsupported) as refused:
        graph.get_driver()
    assert "runs 4.4.30" in refused.value.message
    assert graph.SUPPORTED_VERSIONS in refused.value.message
    # Remembered: refused again without asking the server.
    with pytest.raises(GraphVersionUnsupported):
        graph.get_driver()


@pytest.mark.usefixtures("server_says_4_4", "transactional_db", "models")
async def test_the_api_on_an_unsupported_graph_answers_a_typed_503(settings: Any) -> None:
    from asgiref.sync import sync_to_async

    settings.RECOMMENDATIONS_SOURCE = "neo4j"
    settings.NEO4J_LABEL_PREFIX = f"Test{uuid.uuid4().hex[:10]}"
    await sync_to_async(make_user)(SEEDED_USER_ID)
    client = asgi_client()
    api = Api(client, (await obtain_tokens(client, f"user{SEEDED_USER_ID}"))["access"])
    response = await api.get("/v1/recommendations/movies/", genre="Drama")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "graph_version_unsupported"
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()["checks"]["neo4j"]) == (503, "error: graph_version_unsupported")
