"""Typed errors of the analytics app (stable codes; rendered by musicbud.errors.api_exception_handler)."""

from __future__ import annotations

from musicbud.errors import DependencyUnavailable, InvalidInput


class InvalidEvent(InvalidInput):
    """An event breaks a domain rule the API shape check cannot see (e.g. its time is too old).

    ``details`` always names the offending ``field`` and, in a batch, its ``index``.
    """

    code = "invalid_event"
    default_message = "The event is not valid."


class EventInFuture(InvalidEvent):
    """``created_at`` is later than now by more than the allowed clock skew (``EVENTS_MAX_CLOCK_SKEW_S``)."""

    code = "event_in_future"
    default_message = "The event's time is in the future."


class EventsUnavailable(DependencyUnavailable):
    """The database did not store the events: the client must retry (the retry is idempotent)."""

    code = "events_unavailable"
    default_message = "The events could not be stored; retry later."
