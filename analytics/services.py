"""Writes of the analytics app: recording client events, and rolling them up into daily metrics.

Every caller (the API, the bench, the cron command) goes through these functions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone

from analytics.errors import EventInFuture, EventsUnavailable, InvalidEvent
from analytics.models import (
    CONTENT_TYPE_CHOICES,
    DailyMetric,
    EventKind,
    RecommendationEvent,
    click_through_rate,
    engagement_rate,
)
from analytics.types import EventInput, EventsRecorded
from musicbud import cache
from recommendations import caching, outbox
from recommendations.data.validation import validate_item_id
from recommendations.domain import ContentType
from recommendations.errors import InvalidInteraction, InvalidItemId
from recommendations.experiments import assign_variant
from recommendations.feedback import InteractionChange, interaction_change

logger = logging.getLogger(__name__)

MAX_BATCH = 500
MAX_POSITION = 10_000
# Matches the CharField lengths of RecommendationEvent: longer values would be a database error.
MAX_ID_LENGTH = 64
CONTENT_TYPES = frozenset(value for value, _ in CONTENT_TYPE_CHOICES)

_COLUMNS = (
    "user_id",
    "content_type",
    "item_id",
    "event",
    "position",
    "value",
    "scale",
    "rank",
    "model_version",
    "variant",
    "client_event_id",
    "created_at",
)


def max_event_age() -> timedelta:
    """How old an event may be (``EVENTS_MAX_AGE_DAYS``): older ones are refused, because the daily rollup,
    which recomputes that many days, would never count them."""
    return timedelta(days=settings.EVENTS_MAX_AGE_DAYS)


@dataclass(frozen=True)
class _Row:
    client_event_id: str
    content_type: str
    item_id: str
    event: str
    position: int | None
    value: float | None
    scale: float | None
    rank: int | None
    model_version: str
    created_at: datetime
    change: InteractionChange | None  # what it does to the user's interactions, if anything


def _invalid(index: int, field: str, message: str) -> InvalidEvent:
    return InvalidEvent(message, index=index, field=field)


def _created_at(index: int, event: EventInput, now: datetime) -> datetime:
    """The event's time: the client's, refused beyond the age limit or the clock skew, else clamped to now."""
    created_at = event.created_at or now
    if timezone.is_naive(created_at):
        raise _invalid(index, "created_at", "created_at must carry a time zone.")
    if created_at < now - max_event_age():
        raise _invalid(index, "created_at", f"created_at is more than {max_event_age().days} days in the past.")
    skew = timedelta(seconds=settings.EVENTS_MAX_CLOCK_SKEW_S)
    if created_at > now + skew:
        raise EventInFuture(
            f"created_at is more than {skew.total_seconds():g} s ahead of the server's clock.",
            index=index,
            field="created_at",
        )
    # A client clock ahead of ours by less than the skew: the event happened now.
    return min(created_at, now)


def _validated(index: int, event: EventInput, now: datetime) -> _Row:
    for field in ("client_event_id", "item_id"):
        value = getattr(event, field)
        if not value or len(value) > MAX_ID_LENGTH:
            raise _invalid(index, field, f"{field} must be 1 to {MAX_ID_LENGTH} characters.")
    if len(event.model_version) > MAX_ID_LENGTH:
        raise _invalid(index, "model_version", f"model_version must be at most {MAX_ID_LENGTH} characters.")
    if event.content_type not in CONTENT_TYPES:
        raise _invalid(index, "content_type", f"content_type must be one of {', '.join(sorted(CONTENT_TYPES))}.")
    try:
        # The catalog's id format (IMDb / MyAnimeList), checked before anything is stored: an id that
        # could never name an item is a client error, not an event to keep.
        validate_item_id(ContentType(event.content_type), event.item_id)
    except InvalidItemId as exc:
        raise _invalid(index, "item_id", exc.message) from None
    if event.event not in EventKind.values:
        raise _invalid(index, "event", f"event must be one of {', '.join(EventKind.values)}.")
    if event.position is not None and not 0 <= event.position <= MAX_POSITION:
        raise _invalid(index, "position", f"position must be between 0 and {MAX_POSITION}.")
    created_at = _created_at(index, event, now)
    try:
        change = interaction_change(
            content_type=event.content_type, item_id=event.item_id, event=event.event, created_at=created_at,
            value=event.value, scale=event.scale, rank=event.rank,
        )  # fmt: skip
    except InvalidInteraction as exc:
        raise _invalid(index, str(exc.details.get("field", "event")), exc.message) from None
    return _Row(
        client_event_id=event.client_event_id,
        content_type=event.content_type,
        item_id=event.item_id,
        event=event.event,
        position=event.position,
        value=event.value,
        scale=event.scale,
        rank=event.rank,
        model_version=event.model_version,
        created_at=created_at,
        change=change,
    )


def _insert_new(*, user_id: int, variant: str, rows: Sequence[_Row]) -> set[str]:
    """One INSERT ... ON CONFLICT DO NOTHING RETURNING: the client ids that were not stored before.

    Raw SQL because bulk_create(ignore_conflicts=True) cannot tell which rows were new; this is exact
    even when two retries of one batch race. PostgreSQL and SQLite (>= 3.35) both speak it.
    """
    qn = connection.ops.quote_name
    table = qn(RecommendationEvent._meta.db_table)
    placeholders = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in _COLUMNS)}) "
        f"VALUES {', '.join([placeholders] * len(rows))} "
        f"ON CONFLICT ({qn('user_id')}, {qn('client_event_id')}) DO NOTHING "
        f"RETURNING {qn('client_event_id')}"
    )
    params: list[Any] = []
    for row in rows:
        params += [
            user_id,
            row.content_type,
            row.item_id,
            row.event,
            row.position,
            row.value,
            row.scale,
            row.rank,
            row.model_version,
            variant,
            row.client_event_id,
            connection.ops.adapt_datetimefield_value(row.created_at),
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {client_event_id for (client_event_id,) in cursor.fetchall()}


@dataclass(frozen=True)
class _Recorded:
    new_ids: set[str]
    pending: int  # the user's interaction changes not applied yet


def _store_and_queue(*, user_id: int, variant: str, rows: Sequence[_Row]) -> _Recorded:
    """Store the events and queue their interaction changes in one transaction, then queue their drain.

    Only the changes of events stored now are queued: a retried event was queued when it was first stored,
    and queueing it again would re-apply an old change after a newer one. The request never applies them: the
    worker does (``outbox.request_drain`` queues a task for this user), so a slow store never holds a request.
    """
    try:
        with outbox.user_transaction(outbox.INSERT_LOCK, user_id, wait=True):
            new_ids = _insert_new(user_id=user_id, variant=variant, rows=rows)
            changes = [row.change for row in rows if row.change is not None and row.client_event_id in new_ids]
            outbox.enqueue(user_id, changes)
    except (OperationalError, InterfaceError) as exc:
        # Connection-level failures only: a constraint or data error here is a bug and stays a 500.
        raise EventsUnavailable() from exc
    pending = outbox.request_drain(user_id, queued=len(changes)) if changes else 0
    return _Recorded(new_ids, pending)


async def recommendation_events_record(*, user_id: int, events: Sequence[EventInput]) -> EventsRecorded:
    """Store a batch of one user's events once each (by client_event_id); their interaction changes reach the
    store through the outbox, applied by the worker.

    The variant is assigned here, never taken from the client. Returns which client ids were new, which were
    already stored (a retried batch, or a repeat inside the batch), and how many of the user's changes are
    still pending.
    """
    if not events:
        raise InvalidEvent("At least one event is required.", field="events")
    if len(events) > MAX_BATCH:
        raise InvalidEvent(f"At most {MAX_BATCH} events per batch.", field="events")
    now = timezone.now()
    unique: dict[str, _Row] = {}
    for index, event in enumerate(events):
        row = _validated(index, event, now)
        unique.setdefault(row.client_event_id, row)
    variant = assign_variant(user_id)
    recorded = await sync_to_async(_store_and_queue)(user_id=user_id, variant=variant, rows=list(unique.values()))
    if recorded.pending and not cache.shared():
        # A cache of this process only (the embedded default): the worker's invalidation after its drain cannot
        # reach it, so the user's pages are dropped here, and none is stored until the worker applied the changes
        # (recommendations.api.pages.fill_page; docs/operations.md "The worker").
        await caching.invalidate_user(user_id)

    new_ids = set(recorded.new_ids)
    stored: list[str] = []
    duplicates: list[str] = []
    for event in events:
        # Only the first occurrence of a new id was inserted; a repeat inside the batch is a duplicate.
        if event.client_event_id in new_ids:
            stored.append(event.client_event_id)
            new_ids.discard(event.client_event_id)
        else:
            duplicates.append(event.client_event_id)
    return EventsRecorded(stored=tuple(stored), duplicates=tuple(duplicates), variant=variant, pending=recorded.pending)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC calendar day: metrics are per UTC day whatever the viewer's time zone."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


_METRIC_FIELDS = [
    "impressions",
    "clicks",
    "likes",
    "dislikes",
    "skips",
    "distinct_users",
    "ctr",
    "engagement_rate",
    "mean_click_position",
    "click_positions",
    "computed_at",
]


def daily_metrics_aggregate(*, day: date) -> list[DailyMetric]:
    """Recompute the DailyMetric rows of one UTC day from its events. Idempotent; safe to run concurrently.

    Two grouped queries do the counting in the database (totals per content type and variant, then
    clicks per position); Python only shapes the few resulting rows. Rows of groups that no longer have
    events are removed, so the day always equals its events.
    """
    start, end = day_bounds(day)
    events = RecommendationEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    totals = events.values("content_type", "variant").annotate(
        impressions=Count("id", filter=Q(event=EventKind.VIEW)),
        clicks=Count("id", filter=Q(event=EventKind.CLICK)),
        likes=Count("id", filter=Q(event=EventKind.LIKE)),
        dislikes=Count("id", filter=Q(event=EventKind.DISLIKE)),
        skips=Count("id", filter=Q(event=EventKind.SKIP)),
        distinct_users=Count("user_id", distinct=True),
        mean_click_position=Avg("position", filter=Q(event=EventKind.CLICK)),
    )
    positions: dict[tuple[str, str], dict[str, int]] = {}
    clicked = events.filter(event=EventKind.CLICK, position__isnull=False)
    for bucket in clicked.values("content_type", "variant", "position").annotate(n=Count("id")).order_by("position"):
        positions.setdefault((bucket["content_type"], bucket["variant"]), {})[str(bucket["position"])] = bucket["n"]

    now = timezone.now()
    metrics = []
    for group in totals:
        impressions = group["impressions"]
        metrics.append(
            DailyMetric(
                date=day,
                content_type=group["content_type"],
                variant=group["variant"],
                impressions=impressions,
                clicks=group["clicks"],
                likes=group["likes"],
                dislikes=group["dislikes"],
                skips=group["skips"],
                distinct_users=group["distinct_users"],
                ctr=click_through_rate(clicks=group["clicks"], impressions=impressions),
                engagement_rate=engagement_rate(clicks=group["clicks"], likes=group["likes"], impressions=impressions),
                mean_click_position=group["mean_click_position"],
                click_positions=positions.get((group["content_type"], group["variant"]), {}),
                computed_at=now,
            )
        )
    with transaction.atomic():
        stale = DailyMetric.objects.filter(date=day)
        for metric in metrics:
            stale = stale.exclude(content_type=metric.content_type, variant=metric.variant)
        stale.delete()
        # An upsert, not delete-then-insert: two runs of the same day at once both succeed.
        DailyMetric.objects.bulk_create(
            metrics,
            update_conflicts=True,
            unique_fields=["date", "content_type", "variant"],
            update_fields=_METRIC_FIELDS,
        )
    logger.info("aggregated %s: %d metric rows", day.isoformat(), len(metrics))
    return metrics
