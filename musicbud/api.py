"""What every API view shares: the base view, the one exception handler and the error schema."""

from __future__ import annotations

import logging
from typing import Any

from adrf.views import APIView as AsyncAPIView
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView as SyncAPIView
from rest_framework.views import exception_handler as drf_exception_handler

from musicbud.errors import DatabaseUnavailable, MusicBudError, error_body

logger = logging.getLogger(__name__)


class ApiView(AsyncAPIView):  # type: ignore[misc]  # adrf ships no type hints
    """adrf's async view, with DRF's plain throttle check.

    adrf always runs ``async_to_sync`` over its list of async throttles, even when the list is empty;
    all our throttles are synchronous, so that is a thread hop (~1 ms) per request for nothing.
    """

    def check_throttles(self, request: Request) -> None:
        SyncAPIView.check_throttles(self, request)


# --- errors ---------------------------------------------------------------------------------------


def _drf_code_and_message(exc: drf_exceptions.APIException) -> tuple[str, str]:
    detail = exc.detail
    if isinstance(detail, dict):
        # simplejwt's InvalidToken carries {"detail", "code", "messages"}.
        return str(detail.get("code", exc.default_code)), str(detail.get("detail", exc.default_detail))
    codes = exc.get_codes()
    return (codes if isinstance(codes, str) else str(exc.default_code)), str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The one renderer of errors: ``{"error": {"code", "message", "details"?}}`` with the error's status."""
    if isinstance(exc, MusicBudError):
        if exc.status_code >= 500:
            logger.warning("%s: %s", exc.code, exc.message)
        return Response(error_body(exc.code, exc.message, exc.details or None), status=exc.status_code)
    if isinstance(exc, OperationalError | InterfaceError):
        # A lost connection or a pool timeout where no service translated it: an outage the client
        # should retry (503), not a server bug (500).
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


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="stable machine-readable code; clients branch on it")
    message = serializers.CharField()
    details = serializers.JSONField(required=False)


class ErrorSerializer(serializers.Serializer[Any]):
    """The one error body of the API (musicbud.errors.error_body)."""

    error = ErrorDetailSerializer()


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the error statuses an operation can answer (401 and 429 on every one)."""
    return {status: OpenApiResponse(ErrorSerializer) for status in sorted({401, 429, *statuses})}
