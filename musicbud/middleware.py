"""The API's middleware: Django's own classes, run inline on the event loop.

Under ASGI, Django runs each synchronous middleware hook in a worker thread (asgiref's sync_to_async), a
thread hop per hook per request. The hooks of SecurityMiddleware, CommonMiddleware and
XFrameOptionsMiddleware do no I/O (they compare settings and set headers), so for the API's routes they run
here, inline, with exactly their own code. The API's routes need no sessions, CSRF or messages (a bearer
token is not ambient authority); the admin keeps the full ``MIDDLEWARE`` (musicbud/asgi.py routes by path).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.deprecation import MiddlewareMixin

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class Inline:
    """A MiddlewareMixin whose hooks do no I/O, called on the event loop instead of in a worker thread."""

    sync_capable = False
    async_capable = True
    wrapped: ClassVar[type[MiddlewareMixin]]

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.inner: Any = self.wrapped(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.inner.process_request(request) if hasattr(self.inner, "process_request") else None
        if response is None:
            response = await self.get_response(request)
        if hasattr(self.inner, "process_response"):
            response = self.inner.process_response(request, response)
        return response


class ApiSecurityMiddleware(Inline):
    wrapped = SecurityMiddleware


class ApiCommonMiddleware(Inline):
    wrapped = CommonMiddleware


class ApiXFrameOptionsMiddleware(Inline):
    wrapped = XFrameOptionsMiddleware
