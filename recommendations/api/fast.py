"""``GET /v1/recommendations/<type>/`` answered in front of Django: the API's hottest request.

Why it exists: Django's request cycle has a cost per request that no setting removes (building the request,
two thread hops for the request_started/finished signals' receivers, URL resolution, DRF's dispatch). On
the development machine a minimal Django view with no middleware serves a few percent of what a bare ASGI
app serves (``bench/http.py`` measures both in the same run); a cached recommendation page is meant to
reach 15% of the bare app. So the common case of this one endpoint is answered here, by the same
functions the Django view calls, and with the same bytes:

- the caller: the same access-token check (``musicbud.auth.verify_access_token``, then MusicBud's tokens:
  ``musicbud.musicbud_tokens.caller_of_raw``) and deny list;
- the throttle: the same counter (``musicbud.throttling``), bumped in the same cache round trip that reads
  the deny list and the page (one round trip for a cached page, zero thread hops);
- the page: ``recommendations.api.pages``, whose cache entries are the bodies the output serializer rendered;
- the headers: the API middleware's own, computed at start-up by running it once on a response.

Everything else is handed to Django untouched and answered there as always: another path or method, a
missing or invalid token, a query Django would refuse, a host it would refuse, a request it would
redirect to HTTPS, a revoked or throttled caller, any query parameter but ``limit`` and ``offset`` (the
filters), an unexpected error. ``tests/api/test_fast_path.py``
sends the same requests through both and compares status, headers and body.
"""

from __future__ import annotations

import logging
import re
from functools import cache as memoize
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host
from django.utils.module_loading import import_string
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken

from musicbud import cache, musicbud_tokens, throttling
from musicbud.api import error_parts
from musicbud.asgi_types import App, Receive, Scope, Send
from musicbud.auth import deny_key, refused, verify_access_token
from musicbud.cache import CacheUnavailable, log_cache_error
from musicbud.errors import MusicBudError, error_body
from recommendations.api import pages
from recommendations.api.serializers import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from recommendations.domain import ContentType

logger = logging.getLogger(__name__)


PATH = re.compile(r"/v1/recommendations/(movies|manga|anime)/")
_NUMBER = re.compile(r"[0-9]{1,6}")
# The view's allowed methods, as DRF's finalize_response writes them.
ALLOW = b"GET, HEAD, OPTIONS"


def _unused_get_response(request: HttpRequest) -> HttpResponse:  # pragma: no cover
    raise AssertionError("only the middleware's process_response hook runs here")


Template = tuple[tuple[bytes, bytes | None], ...]


@memoize
def header_template(secure: bool, cached: bool) -> Template:
    """The headers of Django's answer in its order, values None where they vary (x-cache, content-length).

    Found by doing what Django does to the view's response: DRF adds Allow, then settings.API_MIDDLEWARE
    runs its response hooks; so they are the middleware's own, whatever its settings.
    """
    request = HttpRequest()
    request.META = {"SERVER_NAME": "fast-path", "SERVER_PORT": "443" if secure else "80"}
    request.is_secure = lambda: secure  # type: ignore[method-assign]
    response = HttpResponse(b"", content_type="application/json", headers={"X-Cache": "-"} if cached else None)
    response["Allow"] = ALLOW.decode()
    for path in reversed(settings.API_MIDDLEWARE):
        response = import_string(path).wrapped(_unused_get_response).process_response(request, response)
    varying = {"x-cache", "content-length"}
    return tuple(
        (name.lower().encode("latin-1"), None if name.lower() in varying else value.encode("latin-1"))
        for name, value in response.items()
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _is_secure(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if not proxy_header:
        return False
    name, expected = proxy_header
    value = _header(scope, name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1"))
    return value is not None and value.decode("latin-1").split(",")[0].strip() == expected


def _host_allowed(scope: Scope) -> bool:
    host = _header(scope, b"host")
    if host is None:
        return False
    domain, _ = split_domain_port(host.decode("latin-1"))
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def _page_query(query_string: bytes) -> tuple[int, int] | None:
    """(limit, offset) when the query is one the view would accept as it is; None otherwise (Django decides).

    Any other parameter hands the request to Django, even one the view would ignore: the filters
    (``genre``, ``exclude``, ``diversity``...) shape the answer and its cache key, and a parameter added to
    the view later can never be silently dropped here.
    """
    limit, offset = DEFAULT_LIMIT, 0
    seen: set[str] = set()
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name not in ("limit", "offset"):
            return None
        if name in seen or not _NUMBER.fullmatch(value):
            return None
        seen.add(name)
        if name == "limit":
            limit = int(value)
        else:
            offset = int(value)
    if not 1 <= limit <= MAX_LIMIT or not 0 <= offset <= MAX_OFFSET:
        return None
    return limit, offset


def _bearer(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if value is None:
        return None
    parts = value.split()
    return parts[1].decode("latin-1") if len(parts) == 2 and parts[0] == b"Bearer" else None


class RecommendationPages:
    """The ASGI app in front of the API's Django handler (``settings.API_FAST_PATH``)."""

    def __init__(self, django: App) -> None:
        self.django = django
        # Settings under which Django would answer differently for reasons this path does not check.
        self.enabled = not (settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW or settings.USE_X_FORWARDED_HOST)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.enabled and scope["method"] == "GET":
            try:
                answered = await self._answer(scope, send)
            except Exception as exc:  # answered as Django's exception handler answers it
                # Ours (a damaged model and no other: 503) and a lost database (503) by their code; a bug is
                # logged and answered with the same 500 as Django's.
                parts = error_parts(exc)
                if parts is None:
                    logger.exception("Internal Server Error: %s", scope["path"])
                    parts = (500, error_body("server_error", "Internal server error."))
                status, data = parts
                await self._send(send, status, pages.render(data), _is_secure(scope), cache_state=None)
                return
            if answered:
                return
        await self.django(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        """Answer the request if it is the plain case; False hands it to Django (nothing was sent)."""
        match = PATH.fullmatch(scope["path"])
        query = _page_query(scope.get("query_string", b""))
        raw_token = _bearer(scope)
        secure = _is_secure(scope)
        if match is None or query is None or raw_token is None or not _host_allowed(scope):
            return False
        if settings.SECURE_SSL_REDIRECT and not secure:
            return False
        try:
            caller = verify_access_token(raw_token)
        except InvalidToken:
            # MusicBud's token (musicbud.musicbud_tokens); any error it raises is answered by Django's stack.
            try:
                musicbud_caller = await musicbud_tokens.caller_of_raw(raw_token)
            except (AuthenticationFailed, MusicBudError):
                return False
            if musicbud_caller is None:
                return False
            caller = musicbud_caller
        limit, offset = query
        content_type = ContentType(match.group(1))
        serving, slot = pages.page_slot(user_id=caller.user_id, content_type=content_type, limit=limit, offset=offset)
        rate = throttling.user_rate()
        try:
            values, count = await cache.read(
                [deny_key(caller.user_id), *slot.keys], counter=throttling.counter(f"user:{caller.user_id}", rate)
            )
        except CacheUnavailable as exc:
            log_cache_error(exc)
            values, count = [None, *([None] * len(slot.keys))], None
        if refused(caller, values[0]) or (count is not None and count.value > rate.limit):
            return False
        body = slot.body(values[1:])
        if body is not None:
            await self._send(send, 200, body, secure, cache_state=b"hit")
        else:
            page = await pages.fill_page(serving, slot, values[1:])
            await self._send(send, 200, page.body, secure, cache_state=b"miss")
        return True

    @staticmethod
    async def _send(send: Send, status: int, body: bytes, secure: bool, *, cache_state: bytes | None) -> None:
        varying = {b"x-cache": cache_state, b"content-length": str(len(body)).encode()}
        template = header_template(secure, cache_state is not None)
        headers = [(name, value if value is not None else varying[name]) for name, value in template]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
