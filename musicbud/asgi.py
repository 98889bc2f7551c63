"""ASGI entry point (uvicorn): routes each request to the stack it needs, and adds the lifespan protocol.

- ``/v1/...`` (the API) goes to Django with ``settings.API_MIDDLEWARE``: no sessions, CSRF or messages, and
  the middleware hooks inline (musicbud/middleware.py), so a request costs no thread hop there. In front of
  it, ``settings.API_FAST_PATH`` (if set) names an ASGI app that answers the hottest requests without
  Django's request cycle and hands every other request to Django unchanged.
- Everything else (the admin, the API docs' static files) goes to Django with the full ``MIDDLEWARE``.
- Lifespan: at start-up, the background tasks named by ``settings.LIFESPAN_TASKS`` start (none by default:
  background work runs in ``manage.py run_worker``); on shutdown they are cancelled and this worker's Neo4j and
  cache clients closed.
"""

from __future__ import annotations

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicbud.settings")

_django = get_asgi_application()

from django.conf import settings  # noqa: E402  # after get_asgi_application() has set Django up
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from musicbud.asgi_types import App, Receive, Scope, Send  # noqa: E402

# The API's paths; /bud/ holds the MusicBud app's bud calls at its backend's paths (recommendations/api/app_buds.py).
API_PREFIXES = ("/v1/", "/bud/")


class ApiHandler(ASGIHandler):
    """Django's ASGI handler with the API's middleware list instead of ``MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django reads the list from settings.MIDDLEWARE, once, here: lend it the API's list meanwhile.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


# django-stubs types ASGIHandler.__call__ with dict/Mapping where the ASGI spec says MutableMapping.
django_application: App = _django  # type: ignore[assignment]


def _api_application() -> App:
    handler: App = ApiHandler()  # type: ignore[assignment]  # see django_application
    if settings.API_FAST_PATH:
        fast: App = import_string(settings.API_FAST_PATH)(handler)
        return fast
    return handler


api_application = _api_application()


async def _lifespan(receive: Receive, send: Send) -> None:
    from musicbud import cache, graph

    tasks: list[asyncio.Task[None]] = []
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            tasks = [asyncio.create_task(import_string(path)()) for path in settings.LIFESPAN_TASKS]
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await graph.close_async_driver()
            await cache.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"].startswith(API_PREFIXES):
        await api_application(scope, receive, send)
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)
    else:
        await django_application(scope, receive, send)
