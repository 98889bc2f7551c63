"""Applying client feedback to the recommender: a like or dislike becomes an interaction at once.

Called by the events endpoint after the events are stored. Recording is an upsert per
(user, item, kind), so a retried batch applies the same feedback again without duplicating it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from recommendations import caching
from recommendations.data import get_interaction_store
from recommendations.domain import InteractionKind
from recommendations.errors import ItemNotFound, PersonNotFound

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedbackEvent:
    """A like or dislike, already stored as an event, to apply to the interaction data."""

    content_type: str
    item_id: str
    event: str
    created_at: datetime


FEEDBACK_KINDS = {"like": InteractionKind.LIKED, "dislike": InteractionKind.DISLIKED}


async def apply_feedback_events(user_id: int, events: list[FeedbackEvent]) -> None:
    """Record likes/dislikes in the interaction data, then forget the user's cached recommendations.

    Other events (views, clicks, skips) only feed analytics. Errors of the data source propagate
    (GraphUnavailable -> 503): the client retries with the same event ids, which is safe.
    """
    store = get_interaction_store()
    applied = 0
    for event in events:
        kind = FEEDBACK_KINDS.get(event.event)
        if kind is None:
            continue
        try:
            await store.arecord_interaction(
                user_id=user_id,
                content_type=event.content_type,
                item_id=event.item_id,
                kind=kind,
                timestamp=int(event.created_at.timestamp()),
            )
        except ItemNotFound:
            # The event itself is stored (analytics keeps it); an item outside the catalog cannot
            # become an interaction, and failing the batch would make the client retry forever.
            logger.warning("feedback on %s %r ignored: not in the catalog", event.content_type, event.item_id)
            continue
        except PersonNotFound:
            # The same for a user MusicBud's graph has no person for (MusicBud creates people, we do not).
            logger.warning("feedback of user %s ignored: no person in the graph", user_id)
            continue
        applied += 1
    if applied:
        await caching.invalidate_user(user_id)
        logger.debug("applied %d feedback events of user %s", applied, user_id)
