"""Forgetting a user (privacy law, account deletion): every app's data about them, in one operation.

``user_forget`` is what ``DELETE /v1/recommendations/me/`` (the user) and ``manage.py forget_user`` (staff)
run. In one database transaction, holding the user's outbox locks (so no event of theirs is being stored and
no queued change of theirs applied meanwhile), it deletes:

- their events (``analytics``: every RecommendationEvent of theirs; the daily metrics keep only counts);
- their interactions in the configured store, every type (``recommendations.forgetting``), their queued
  interaction changes and their bud opt-out; and records them as forgotten, which masks their rows in
  every served model whose data was read before (no personal recommendations, never a bud);

then drops their cached pages and every bud list (cache generations: unreachable at once, the bytes expire
within ``RECOMMENDATIONS_CACHE_TTL``). If the cache does not answer, that part is recorded and retried
(``caching.InvalidationPending``) and the answer says so (``cache: "pending"``): until the retry reaches the
cache, their own cached pages and other users' cached bud lists may still show them, for at most that TTL.
The next model is trained without them.

Idempotent: forgetting again deletes nothing more. If the store cannot be reached the transaction is rolled
back and the call fails with 503 (nothing half-done; retry). The log line names a keyed hash of the user id
(``reference``), never the id: whoever knows the id and the secret key can match a request to its log line.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, replace

from asgiref.sync import sync_to_async
from django.conf import settings

from analytics.models import RecommendationEvent
from recommendations import caching, outbox
from recommendations.forgetting import forget_recommendation_data

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Forgotten:
    """What was erased (all 0 when the user had been forgotten already)."""

    interactions: int
    events: int
    pending_changes: int
    bud_opt_out: bool
    reference: str
    # "invalidated": no cached answer shows them any more; "pending": the cache did not answer, the invalidation
    # is recorded and retried, and cached answers may show them until then (at most RECOMMENDATIONS_CACHE_TTL).
    cache: str = "invalidated"
    # Cache invalidations recorded and not yet done (of anyone: the retry applies them all at once).
    pending_invalidations: int = 0


def reference(user_id: int) -> str:
    """The user's reference in logs: an HMAC of the id (not reversible without the secret key)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"forget:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def _erase(user_id: int) -> Forgotten:
    with (
        outbox.user_transaction(outbox.INSERT_LOCK, user_id, wait=True),
        outbox.user_transaction(outbox.DRAIN_LOCK, user_id, wait=True),
    ):
        events, _ = RecommendationEvent.objects.filter(user_id=user_id).delete()
        data = forget_recommendation_data(user_id)
    return Forgotten(
        interactions=data.interactions,
        events=events,
        pending_changes=data.pending,
        bud_opt_out=data.bud_opt_out,
        reference=reference(user_id),
    )


async def user_forget(*, user_id: int, requested_by: str) -> Forgotten:
    """Erase everything this service holds about one user (see the module docstring)."""
    forgotten = await sync_to_async(_erase)(user_id)
    try:
        # One invalidation for both: their pages and everyone's bud lists.
        await caching.invalidate_user_and_buds(user_id)
    except caching.InvalidationPending as exc:
        forgotten = replace(forgotten, cache="pending", pending_invalidations=exc.pending)
    logger.info(
        "forgot user ref %s (requested by %s): %d interactions, %d events, %d pending changes; cache %s",
        forgotten.reference, requested_by, forgotten.interactions, forgotten.events, forgotten.pending_changes,
        forgotten.cache,
    )  # fmt: skip
    return forgotten
