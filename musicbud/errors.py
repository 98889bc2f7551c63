"""The one exception hierarchy of the project and the one place that renders errors as JSON.

Every error a client can see has a stable machine-readable ``code``; clients branch on the code, never
on the message. Views do not catch: they let these propagate to ``api_exception_handler``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from recommendations.engine.errors import EngineError

logger = logging.getLogger(__name__)


class MusicBudError(Exception):
    """Base of every error we raise on purpose."""

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


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def _drf_code_and_message(exc: drf_exceptions.APIException) -> tuple[str, str]:
    detail = exc.detail
    if isinstance(detail, dict):
        # simplejwt's InvalidToken carries {"detail", "code", "messages"}.
        return str(detail.get("code", exc.default_code)), str(detail.get("detail", exc.default_detail))
    codes = exc.get_codes()
    return (codes if isinstance(codes, str) else str(exc.default_code)), str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, MusicBudError):
        if exc.status_code >= 500:
            logger.warning("%s: %s", exc.code, exc.message)
        return Response(error_body(exc.code, exc.message, exc.details or None), status=exc.status_code)
    if isinstance(exc, EngineError):
        # The engine is Django-free, so its errors are not MusicBudErrors; they carry the same two fields.
        if exc.status_code >= 500:
            logger.warning("%s: %s", exc.code, exc.message)
        return Response(error_body(exc.code, exc.message), status=exc.status_code)
    if isinstance(exc, OperationalError | InterfaceError):
        # A lost connection or a pool timeout where no service translated it (e.g. the user lookup of
        # JWT authentication): an outage the client should retry (503), not a server bug (500).
        logger.warning("%s: %s", DatabaseUnavailable.code, exc)
        return Response(error_body(DatabaseUnavailable.code, DatabaseUnavailable.default_message), status=503)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=404)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected exception: Django logs it and answers 500
    assert isinstance(exc, drf_exceptions.APIException)
    if isinstance(exc, drf_exceptions.ValidationError):
        response.data = error_body("invalid_input", "The request is not valid.", exc.detail)
    else:
        code, message = _drf_code_and_message(exc)
        response.data = error_body(code, message)
    return response


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)
