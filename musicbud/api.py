"""The base class of every API view."""

from __future__ import annotations

from adrf.views import APIView as AsyncAPIView
from rest_framework.request import Request
from rest_framework.views import APIView as SyncAPIView


class ApiView(AsyncAPIView):  # type: ignore[misc]  # adrf ships no type hints
    """adrf's async view, with DRF's plain throttle check.

    adrf always runs ``async_to_sync`` over its list of async throttles, even when the list is empty;
    all our throttles are synchronous, so that is a thread hop (~1 ms) per request for nothing.
    """

    def check_throttles(self, request: Request) -> None:
        SyncAPIView.check_throttles(self, request)
