"""The outbox: every accepted interaction event reaches the interaction store, once, in order per user.

An event that changes interactions (``recommendations.feedback``) is stored together with a
``PendingInteraction`` row, in one database transaction: the event is acknowledged (2xx) only once both are
committed, and a retried event (same client id) is stored, and queued, no second time. A row leaves the
outbox only when the store has the change. Requests never drain: three things do, all through ``drain_user``:

- the task the request queues for its user (``request_drain`` -> ``recommendations.tasks.drain_user``), which
  the worker (``manage.py run_worker``) runs within WORKER_POLL_S: a new like is in the page right after;
- the worker's pass over every user's rows (``drain_pass``, every ``OUTBOX_DRAIN_INTERVAL_S`` seconds: what the
  store did not take, e.g. while the graph was down) and ``manage.py drain_interaction_outbox`` (by hand).

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
dropped with a warning, as before the outbox. SQLite (the embedded demo) has no advisory locks: a lock of the
process stands in (the drains of one worker process; SQLite itself serializes every write).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from asgiref.sync import SyncToAsync, async_to_sync
from django.db import InterfaceError, OperationalError, connection, transaction
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


def request_drain(user_id: int, *, queued: int) -> int:
    """Queue a drain of the user's changes for the worker, after their events committed; returns how many of the
    user's changes are pending now. A database failure here loses nothing: the rows are committed, and the
    worker's periodic pass (``drain_pass``) applies them."""
    from recommendations import tasks

    try:
        tasks.drain_user.enqueue(user_id=user_id)
        return PendingInteraction.objects.filter(user_id=user_id).count()
    except (OperationalError, InterfaceError) as exc:
        logger.warning("outbox of user %s: drain not queued (database: %s); the periodic pass takes it", user_id, exc)
        return queued


async def _invalidate_users(user_ids: list[int], *, close: bool) -> None:
    from musicbud import cache

    try:
        await caching.invalidate_users(user_ids)
    finally:
        if close:
            await cache.close()  # the event loop async_to_sync made for this call ends here: so do its clients


def invalidate_drained(user_ids: Sequence[int]) -> None:
    """Forget the cached pages of users whose changes were applied (sync code: the worker's tasks)."""
    if not user_ids:
        return
    # async_to_sync, not asyncio.run: called from code that itself runs in sync_to_async (an events request whose
    # task runs at once: TASKS_BACKEND=immediate), the invalidation must run on that request's event loop, so that
    # its own thread-sensitive database calls (retrying recorded invalidations) come back to this thread; a loop of
    # our own here waited forever for this blocked thread. Only a loop made for this call has its clients closed.
    made_for_this_call = getattr(SyncToAsync.threadlocal, "main_event_loop", None) is None
    try:
        async_to_sync(_invalidate_users)(list(user_ids), close=made_for_this_call)
    except caching.InvalidationPending as exc:
        # The changes are applied; the invalidation is recorded and the worker's periodic retry finishes it.
        logger.warning("outbox: %d users' pages not invalidated yet (retried): %s", len(user_ids), exc)


def drain_user_now(user_id: int) -> Drained:
    """The worker's drain of one user (the task an events request queued), then their pages forgotten."""
    drained = drain_user(user_id)
    if drained.applied:
        invalidate_drained([user_id])
    if drained.stopped == "unavailable":
        logger.warning("user %s: %d interaction changes wait for the store", user_id, drained.pending)
    return drained


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


def drain_pass() -> DrainSummary:
    """The worker's periodic pass over every user's pending changes (settings.WORKER_PERIODIC), then the
    drained users' cached pages forgotten (one cache round trip)."""
    summary = drain_pending()
    invalidate_drained(summary.changed_users)
    if summary.applied or summary.dropped:
        logger.info("outbox: applied %d, dropped %d, %d pending", summary.applied, summary.dropped, summary.pending)
    elif summary.store_unavailable:
        logger.warning("outbox: the interaction store is unavailable; %d changes pending", summary.pending)
    return summary
