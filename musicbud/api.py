"""What every API view shares: the base view, the one exception handler and the error schema."""

from __future__ import annotations

import inspect
import logging
from typing import Any

from adrf.views import APIView as AsyncAPIView
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from musicbud import cache, musicbud_tokens, throttling
from musicbud.auth import TokenRevoked, deny_key, refused, request_caller
from musicbud.cache import CacheUnavailable, log_cache_error
from musicbud.errors import DatabaseUnavailable, DependencyUnavailable, MusicBudError, error_body

logger = logging.getLogger(__name__)


class ApiView(AsyncAPIView):  # type: ignore[misc]  # adrf ships no type hints
    """adrf's async view, dispatched without thread hops.

    adrf runs DRF's ``initial`` (authentication, permissions, throttles) in a worker thread. Here
    authentication is a signature check and permissions read the token's claims, so they run inline; the
    two checks that need the cache, the deny list and the throttle counter, are one awaited round trip.
    """

    async def async_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            if self.authentication_classes:
                await musicbud_tokens.authenticate_request(drf_request)  # MusicBud's tokens (when configured)
            self.initial(drf_request, *args, **kwargs)
            await check_caller(drf_request, self.throttle_rate(), staff_only=self.staff_only())
            method = (drf_request.method or "").lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            response = (handler or self.http_method_not_allowed)(drf_request, *args, **kwargs)
            if inspect.isawaitable(response):
                response = await response
        except Exception as exc:  # noqa: BLE001  # DRF's contract: every error goes to handle_exception
            response = self.handle_exception(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        assert isinstance(self.response, HttpResponseBase)
        return rendered(self.response)

    def check_throttles(self, request: Request) -> None:
        """Done by ``check_caller``, awaited after ``initial``."""

    def throttle_rate(self) -> throttling.Rate:
        """The rate this view's callers are throttled at (per user; a public view: per address)."""
        return throttling.user_rate()

    def staff_only(self) -> bool:
        """Whether only staff may call this view: then it fails closed while the deny list cannot be read."""
        return any(isinstance(permission, IsAdminUser) for permission in self.get_permissions())


def rendered(response: HttpResponseBase) -> HttpResponseBase:
    """A DRF Response rendered here, as a plain HttpResponse.

    Django's async handler renders any response that has a ``render`` method in a worker thread (one hop
    per request, even when it is rendered already); JSON rendering does no I/O, so it runs inline and
    Django gets a response with nothing left to render.
    """
    if not isinstance(response, Response):
        return response
    response.render()
    plain = HttpResponse(response.content, status=response.status_code)
    for name, value in response.items():
        plain[name] = value
    # Logged by the exception handler already: Django must not log it again.
    plain._has_been_logged = getattr(response, "_has_been_logged", False)  # type: ignore[attr-defined]
    return plain


class DenyListUnavailable(DependencyUnavailable):
    code = "deny_list_unavailable"
    default_message = (
        "Staff routes are closed while the token deny list cannot be read (the cache is unavailable); retry later."
    )


async def check_caller(request: Request, rate: throttling.Rate, *, staff_only: bool = False) -> None:
    """One cache round trip: refuse a deny-listed token (401), count the request and refuse it beyond the rate
    (429). With the cache down, neither check can run. An ordinary route then passes on the token alone (logged):
    refusing every reader for a cache outage would turn it into a full outage, and a revoked token is bounded by
    its lifetime. A staff route fails closed (503 ``deny_list_unavailable``): a demoted staff member's token still
    says staff until it expires, and what staff routes do (start trainings, read runs) can wait for the cache."""
    caller = request_caller(request)
    keys = [deny_key(caller.user_id)] if caller is not None else []
    try:
        values, count = await cache.read(keys, counter=throttling.counter(throttling.ident_of(request), rate))
    except CacheUnavailable as exc:
        log_cache_error(exc)
        if staff_only:
            raise DenyListUnavailable() from exc
        return
    if caller is not None and refused(caller, values[0]):
        raise TokenRevoked()
    throttling.check(count, rate)


# --- errors ---------------------------------------------------------------------------------------


def _drf_code_and_message(exc: drf_exceptions.APIException) -> tuple[str, str]:
    detail = exc.detail
    if isinstance(detail, dict):
        # simplejwt's InvalidToken carries {"detail", "code", "messages"}.
        return str(detail.get("code", exc.default_code)), str(detail.get("detail", exc.default_detail))
    codes = exc.get_codes()
    return (codes if isinstance(codes, str) else str(exc.default_code)), str(detail)


def error_parts(exc: Exception) -> tuple[int, dict[str, Any]] | None:
    """Status and body of an error we answer ourselves (logged when it is the server's side: 5xx).

    Our own errors, and a lost database connection or a pool timeout that no service translated: an
    outage the client should retry (503), not a server bug. None for anything else.
    """
    if isinstance(exc, OperationalError | InterfaceError):
        exc = DatabaseUnavailable()
    if not isinstance(exc, MusicBudError):
        return None
    if exc.status_code >= 500:
        logger.warning("%s: %s", exc.code, exc.message)
    return exc.status_code, error_body(exc.code, exc.message, exc.details or None)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The one renderer of errors: ``{"error": {"code", "message", "details"?}}`` with the error's status."""
    response = _error_response(exc, context)
    if response is not None and response.status_code < 500:
        _log_client_error(response, context)
    return response


def _log_client_error(response: Response, context: dict[str, Any]) -> None:
    """One line per 4xx, with its error code; Django's own line for it ("Bad Request: /path") is skipped."""
    request = context.get("request")
    error = response.data.get("error", {}) if isinstance(response.data, dict) else {}
    method, path = (request.method, request.path) if request is not None else ("-", "-")
    logger.warning("%d %s: %s %s", response.status_code, error.get("code", "-"), method, path)
    response._has_been_logged = True  # type: ignore[attr-defined]  # what django.utils.log.log_response checks


def _error_response(exc: Exception, context: dict[str, Any]) -> Response | None:
    parts = error_parts(exc)
    if parts is not None:
        status, body = parts
        return Response(body, status=status)
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
