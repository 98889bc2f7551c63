"""Plain values passed between the API, the services and other apps (no Django imports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class EventInput:
    """One client event as received, already shape-checked by the API (or built by another caller)."""

    client_event_id: str
    content_type: str
    item_id: str
    event: str
    position: int | None = None
    model_version: str = ""
    # A rating's value and scale (rated), a top-list rank (top_list_add); None for every other event.
    value: float | None = None
    scale: float | None = None
    rank: int | None = None
    # Client clock; None means "now". The service clamps and bounds it.
    created_at: datetime | None = None


@dataclass(frozen=True)
class EventsRecorded:
    """Outcome of recording one batch: which client ids were new and which were already stored, and how many
    of the user's interaction changes still wait for the interaction store (applied later, never lost)."""

    stored: tuple[str, ...]
    duplicates: tuple[str, ...]
    variant: str
    pending: int = 0
