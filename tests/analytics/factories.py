"""Builders shared by the analytics tests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User

from analytics.models import RecommendationEvent

EVENTS_URL = "/v1/recommendations/events/"
PASSWORD = "a-long-test-password-42"


def event(client_event_id: str, kind: str = "view", **fields: Any) -> dict[str, Any]:
    """One event as a client posts it."""
    return {
        "client_event_id": client_event_id,
        "content_type": "movies",
        "item_id": "tt0111161",
        "event": kind,
    } | fields


def stored_event(
    user: User,
    kind: str,
    at: datetime,
    *,
    content_type: str = "movies",
    variant: str = "control",
    position: int | None = None,
    item_id: str = "tt0111161",
) -> RecommendationEvent:
    """One event row as the service would store it, at a chosen time (the API only accepts recent times)."""
    return RecommendationEvent(
        user=user,
        content_type=content_type,
        item_id=item_id,
        event=kind,
        position=position,
        variant=variant,
        client_event_id=uuid.uuid4().hex,
        created_at=at,
    )
