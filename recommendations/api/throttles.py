"""Per-user request throttling on Django's cache; a cache outage lets requests through (logged)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

from recommendations.caching import CACHE_ERRORS, log_cache_error


class PerUserThrottle(UserRateThrottle):
    """``settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user"]`` per authenticated user."""

    scope = "user"

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            # Refusing every request because the counter store is down would turn a cache outage
            # into a full outage; serving unthrottled for its duration is the lesser harm.
            log_cache_error(exc)
            return True
