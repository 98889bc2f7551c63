"""The one exception hierarchy of the project: every error a client can see, with a stable code.

Pure Python (no Django, no app code), so anything may import it cheaply: the Django-free engine, the
data service, the ASGI fast path. Clients branch on ``code``, never on the message. Views do not catch:
errors propagate to the one DRF exception handler, ``musicbud.api.api_exception_handler``, which renders
``status_code`` and ``error_body(code, message, details)``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class MusicBudError(Exception):
    """Base of every error we raise on purpose (the engine's ``EngineError`` included)."""

    code: ClassVar[str] = "error"
    status_code: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal error."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class InvalidInput(MusicBudError):
    code = "invalid_input"
    status_code = 400
    default_message = "The request is not valid."


class NotFound(MusicBudError):
    code = "not_found"
    status_code = 404
    default_message = "Not found."


class Conflict(MusicBudError):
    code = "conflict"
    status_code = 409
    default_message = "The request conflicts with the current state."


class DependencyUnavailable(MusicBudError):
    """A service we depend on (graph, database, cache) did not answer."""

    code = "dependency_unavailable"
    status_code = 503
    default_message = "A service this request needs is unavailable."


class DatabaseUnavailable(DependencyUnavailable):
    code = "database_unavailable"
    default_message = "The database is unavailable; retry later."


class GraphUnavailable(DependencyUnavailable):
    code = "graph_unavailable"
    default_message = "The interaction graph (Neo4j) is unavailable."


class GraphVersionUnsupported(DependencyUnavailable):
    """The Neo4j server runs a version our Cypher does not run on (``musicbud.graph.SUPPORTED_VERSIONS``)."""

    code = "graph_version_unsupported"
    default_message = "The Neo4j server's version is not supported."


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body
