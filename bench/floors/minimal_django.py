"""The Django floor for bench/http.py: one async view, no middleware, no apps; the same body as bare_asgi."""

from __future__ import annotations

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-floor-key-not-a-secret-0123456789",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()

from bare_asgi import BODY  # type: ignore[import-not-found]  # noqa: E402  # the server runs in this folder
from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


async def view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BODY, content_type="application/json")


urlpatterns = [path("floor", view)]
app = get_asgi_application()
