"""Request throttling: a counter per caller in the shared cache (``THROTTLE_RATE_USER``).

A caller's window opens with their first request and lasts the rate's period; the counter is incremented
in the same cache round trip as the request's other reads (``musicbud.cache.read``) and expires with the
window. Beyond the limit the answer is 429 with ``Retry-After`` (seconds until the window closes). A caller
can therefore burst up to twice the limit across two consecutive windows; that is the price of one counter
per request instead of a list of timestamps.

A cache outage lets requests through (logged): refusing every request because the counter store is down
would turn a cache outage into a full outage; serving unthrottled for its duration is the lesser harm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from musicbud import cache
from musicbud.cache import CacheUnavailable, Count, Counter, log_cache_error

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    period_s: int

    @classmethod
    def parse(cls, rate: str) -> Rate:
        """``600/minute`` (DRF's notation: the period's first letter counts), validated by settings."""
        count, period = rate.split("/")
        return cls(limit=int(count), period_s=_PERIODS[period[0]])


def user_rate() -> Rate:
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert isinstance(rates, dict)
    return Rate.parse(str(rates["user"]))


def address_rate() -> Rate:
    """The rate of calls without a token, per client address (``THROTTLE_RATE_ADDRESS``)."""
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert isinstance(rates, dict)
    return Rate.parse(str(rates["address"]))


def counter(ident: str, rate: Rate) -> Counter:
    """The counter of ``ident`` (``user:5``, ``addr:10.0.0.1``)."""
    return Counter(key=f"throttle:{ident}", ttl_s=rate.period_s)


def check(count: Count | None, rate: Rate) -> None:
    """Raise Throttled (429) when ``count`` is over the limit; None (the cache was down) passes."""
    if count is not None and count.value > rate.limit:
        raise Throttled(wait=max(count.expires_in_s, 1))


def ident_of(request: Request) -> str:
    user_id = getattr(request.user, "pk", None)
    return f"user:{user_id}" if user_id is not None else f"addr:{BaseThrottle().get_ident(request)}"


async def acheck_request(request: Request) -> None:
    """Count one request of its caller, and refuse it beyond the rate."""
    rate = user_rate()
    try:
        _, count = await cache.read([], counter=counter(ident_of(request), rate))
    except CacheUnavailable as exc:
        log_cache_error(exc)
        return
    check(count, rate)


class RateThrottle(BaseThrottle):
    """The same counter for DRF's synchronous views (the token endpoints), through the event loop."""

    def allow_request(self, request: Request, view: Any) -> bool:
        async_to_sync(acheck_request)(request)
        return True
