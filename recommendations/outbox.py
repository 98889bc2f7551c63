"""The outbox: every accepted interaction event reaches the interaction store, once, in order per user.

An event that changes interactions (``recommendations.feedback``) is stored together with a
``PendingInteraction`` row, in one database transaction: the event is acknowledged (2xx) only once both are
committed, and a retried event (same client id) is stored, and queued, no second time. A row leaves the
outbox only when the store has the change. Three things drain it, all through ``drain_user``:

- the request that stored the events tries its user's rows at once (a new like is in the next page);
- a background task in every web process (``run_drainer``, every ``OUTBOX_DRAIN_INTERVAL_S`` seconds; 0 turns
  it off) and ``manage.py drain_interaction_outbox`` (cron, or by hand after an outage) drain every user's.

Exactly once, in order, rests on three things:

1. **One drainer per user at a time**: a drain holds the user's drain lock (a PostgreSQL advisory
   transaction lock; try-lock, so a busy user is skipped, never waited for) for its whole transaction.
2. **Order**: rows are applied in id order. Events of one user are stored under the user's insert lock, so
   their ids are in commit order and a drain never sees a later row without the earlier ones.
3. **Delete after the write**: the row is deleted in the drain's transaction after the store acknowledged
   the change. With the built-in store the change and the deletion are one transaction: exactly once. With
   Neo4j a crash between the two leaves the row, and the next drain applies it again: every change is
   idempotent (an upsert of the (user, item, kind) to the event's value and time, or a delete), and it is
   re-applied before any later row of that user, so the store ends in the same state: exactly once in
   effect.

A store that does not answer (``DependencyUnavailable``) stops the drain at that row: it and every later row
of the user stay queued, in order. A change the store refuses for good (the item left the catalog) is
dropped with a warning, as before the outbox. SQLite (the embedded demo, one process) has no advisory
locks: a process-wide lock stands in.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.db.models import Count, Min

from musicbud.errors import DependencyUnavailable, InvalidInput, NotFound
from recommendations import caching
from recommendations.data import get_interaction_store
from recommendations.data.store import InteractionStore
from recommendations.feedback import InteractionChange
from recommendations.models import PendingInteraction

logger = logging.getLogger(__name__)

# Advisory lock namespaces (the first key of pg_advisory_xact_lock(int, int)).
INSERT_LOCK = 0x4D42_0001
DRAIN_LOCK = 0x4D42_0002
DRAIN_BATCH = 500
_ERROR_LENGTH = 200
_local_locks = {INSERT_LOCK: threading.Lock(), DRAIN_LOCK: threading.Lock()}

Stopped = Literal["done", "busy", "unavailable"]


@contextmanager
def user_transaction(namespace: int, user_id: int, *, wait: bool) -> Iterator[bool]:
    """A transaction holding one user's lock of ``namespace``; yields False if ``wait`` is off and it is taken.

    ``user_id`` is folded into 31 bits: two users sharing a key only wait for each other, never run at once.
    """
    key = user_id & 0x7FFF_FFFF
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, key])
                yield True
            else:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [namespace, key])
                (acquired,) = cursor.fetchone() or (False,)
                yield bool(acquired)
        return
    lock = _local_locks[namespace]
    acquired = lock.acquire(blocking=wait)
    try:
        with transaction.atomic():
            yield acquired
    finally:
        if acquired:
            lock.release()


def enqueue(user_id: int, changes: Sequence[InteractionChange]) -> None:
    """Queue a user's changes, in order; inside the transaction that stores their events (the insert lock)."""
    PendingInteraction.objects.bulk_create(
        PendingInteraction(
            user_id=user_id, content_type=change.content_type.value, item_id=change.item_id, kind=change.kind,
            remove=change.remove, value=change.value, timestamp=change.timestamp,
        )
        for change in changes
    )  # fmt: skip


@dataclass(frozen=True)
class Drained:
    """One user's drain: changes applied, dropped (refused for good), still pending, and why it stopped."""

    applied: int = 0
    dropped: int = 0
    pending: int = 0
    stopped: Stopped = "done"


def _apply(store: InteractionStore, row: PendingInteraction) -> None:
    if row.remove:
        store.delete_interaction(user_id=row.user_id, content_type=row.content_type, item_id=row.item_id, kind=row.kind)
    else:
        store.record_interaction(
            user_id=row.user_id, content_type=row.content_type, item_id=row.item_id, kind=row.kind,
            value=row.value, timestamp=row.timestamp,
        )  # fmt: skip


def _drain_batch(store: InteractionStore, user_id: int) -> tuple[Drained, bool]:
    """One transaction's worth of a user's rows, and whether a full batch went through (more may follow)."""
    with user_transaction(DRAIN_LOCK, user_id, wait=False) as owned:
        if not owned:
            # Another drainer has this user; it drains the rows queued before it re-reads, this one stops.
            return Drained(pending=PendingInteraction.objects.filter(user_id=user_id).count(), stopped="busy"), False
        rows = list(PendingInteraction.objects.filter(user_id=user_id).order_by("id")[:DRAIN_BATCH])
        done: list[int] = []
        applied = dropped = 0
        try:
            for row in rows:
                try:
                    _apply(store, row)
                    applied += 1
                except (InvalidInput, NotFound) as exc:
                    # Refused for good (the item left the catalog): retrying cannot help; the event is kept.
                    logger.warning("interaction change %s dropped: %s: %s", row.pk, exc.code, exc.message)
                    dropped += 1
                done.append(row.pk)
        except DependencyUnavailable as exc:
            head = rows[len(done)]
            PendingInteraction.objects.filter(pk=head.pk).update(
                attempts=head.attempts + 1, last_error=f"{exc.code}: {exc.message}"[:_ERROR_LENGTH]
            )
            PendingInteraction.objects.filter(pk__in=done).delete()
            left = PendingInteraction.objects.filter(user_id=user_id).count()
            return Drained(applied, dropped, pending=left, stopped="unavailable"), False
        PendingInteraction.objects.filter(pk__in=done).delete()
    return Drained(applied, dropped), len(rows) == DRAIN_BATCH


def drain_user(user_id: int) -> Drained:
    """Apply one user's pending changes to the store, oldest first, until none is left or the store fails.

    Sync (database and store calls in this thread). A database failure propagates; nothing is lost by it.
    """
    store = get_interaction_store()
    applied = dropped = 0
    while True:
        batch, more = _drain_batch(store, user_id)
        applied, dropped = applied + batch.applied, dropped + batch.dropped
        if not more:
            return Drained(applied, dropped, batch.pending, batch.stopped)


def try_drain_user(user_id: int, *, queued: int) -> Drained:
    """``drain_user`` for the request that stored ``queued`` changes: a database outage leaves them queued."""
    try:
        return drain_user(user_id)
    except (OperationalError, InterfaceError) as exc:
        # The events are committed; the background drain applies them when the database answers again.
        logger.warning("outbox of user %s not drained now (database: %s)", user_id, exc)
        return Drained(pending=queued, stopped="unavailable")


@dataclass
class DrainSummary:
    """A pass over every user with pending changes."""

    users: int = 0
    applied: int = 0
    dropped: int = 0
    pending: int = 0  # rows left after the pass
    store_unavailable: bool = False
    changed_users: list[int] = field(default_factory=list)  # whose caches to invalidate


def pending_users(limit: int | None = None) -> list[int]:
    """Users with pending changes, the longest-waiting first."""
    users = PendingInteraction.objects.values("user_id").annotate(first=Min("id")).order_by("first")
    ids = users.values_list("user_id", flat=True)
    return list(ids[:limit] if limit is not None else ids)


def drain_pending(*, max_users: int | None = None) -> DrainSummary:
    """Drain every user's pending changes (the background task and the command). Stops at the first sign
    that the store is down: every other user would fail the same way."""
    summary = DrainSummary()
    for user_id in pending_users(max_users):
        result = drain_user(user_id)
        summary.users += 1
        summary.applied += result.applied
        summary.dropped += result.dropped
        if result.applied:
            summary.changed_users.append(user_id)
        if result.stopped == "unavailable":
            summary.store_unavailable = True
            break
    summary.pending = PendingInteraction.objects.count()
    return summary


@dataclass(frozen=True)
class OutboxStatus:
    pending: int
    users: int
    oldest_accepted_at: str | None
    most_attempts: int


def outbox_status() -> OutboxStatus:
    totals = PendingInteraction.objects.aggregate(n=Count("id"), users=Count("user_id", distinct=True))
    oldest = PendingInteraction.objects.order_by("id").values_list("accepted_at", flat=True).first()
    worst = PendingInteraction.objects.order_by("-attempts").values_list("attempts", flat=True).first()
    return OutboxStatus(
        pending=int(totals["n"]),
        users=int(totals["users"]),
        oldest_accepted_at=oldest.isoformat() if oldest else None,
        most_attempts=int(worst or 0),
    )


def _drain_in_own_thread() -> DrainSummary:
    """``drain_pending`` in a worker thread of its own: its database connection is returned afterwards."""
    try:
        return drain_pending()
    finally:
        close_old_connections()
        connection.close()


async def drain_and_invalidate() -> DrainSummary:
    """One background pass, then the drained users' cached pages forgotten (one cache round trip)."""
    summary = await asyncio.to_thread(_drain_in_own_thread)
    await caching.invalidate_users(summary.changed_users)
    return summary


async def run_drainer() -> None:
    """The web process's background drain: a pass every OUTBOX_DRAIN_INTERVAL_S seconds, forever."""
    interval = settings.OUTBOX_DRAIN_INTERVAL_S
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            summary = await drain_and_invalidate()
        except (OperationalError, InterfaceError) as exc:
            # The database is down: nothing is lost (the rows are in it); say so without a traceback.
            logger.warning("outbox drain: the database is unavailable (%s); retrying in %s s", exc, interval)
            continue
        except Exception:  # a supervisor loop: log it, and try again next interval
            logger.exception("outbox drain failed; retrying in %s s", interval)
            continue
        if summary.applied or summary.dropped:
            logger.info("outbox: applied %d, dropped %d, %d pending", summary.applied, summary.dropped, summary.pending)
        elif summary.store_unavailable:
            logger.warning("outbox: the interaction store is unavailable; %d changes pending", summary.pending)
