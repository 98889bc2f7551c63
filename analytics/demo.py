"""Weeks of synthetic feedback for the embedded demo, so its dashboard has charts on the first run.

The events go through the production writer (``services.recommendation_events_record``: validation, the A/B
variant, the outbox that turns likes and dislikes into interactions), a batch of up to ``MAX_BATCH`` per user, and
then every day is rolled up (``services.daily_metrics_aggregate``), as the hourly cron does. The users are demo
accounts for ids the seeded store already has, so they also have histories, recommendations and buds; what they
are shown is the served model's top items for them (popular items while a type has no model).

Behaviour is drawn from a fixed seed: each account is active on about 60% of the days and sees 5 items a
session; clicks fall with the position and their rate improves over the period (a model getting better);
a click becomes a like 40% of the time. A day's events are drawn from a generator of their own (user, type,
calendar day) and their ids name the day and position, so a second run stores nothing twice, whatever its
``days``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import numpy as np
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from analytics.services import MAX_BATCH, daily_metrics_aggregate, recommendation_events_record
from analytics.types import EventInput
from recommendations import recommending
from recommendations.data import get_interaction_store
from recommendations.domain import ContentType
from recommendations.engine import Recommender

SHOWN_PER_SESSION = 5
CANDIDATES = 20
ACTIVE_SHARE = 0.6
TREND_DAYS = 27  # clicks improve over the last four weeks, then stay flat further back
_TYPE_NUMBER = {ct: number for number, ct in enumerate(ContentType)}


@dataclass(frozen=True)
class DemoEvents:
    accounts: int
    stored: int
    days: int
    metric_rows: int


def demo_accounts(*, first_id: int, count: int) -> list[int]:
    """Accounts ``listener<id>`` (no usable password) for ids ``first_id`` on; the ids that have an account."""
    user_model = get_user_model()
    ids = list(range(first_id, first_id + count))
    unusable = make_password(None)
    # Taken ids or usernames are left as they are: a second run creates nothing.
    user_model.objects.bulk_create(
        [user_model(pk=pk, username=f"listener{pk}", password=unusable) for pk in ids], ignore_conflicts=True
    )
    return sorted(user_model.objects.filter(pk__in=ids).values_list("pk", flat=True))


def _shown_items(content_type: ContentType, user_ids: list[int]) -> dict[int, _Shown]:
    """Per user, what a session shows them: the served model's top items for them, or popular ones."""
    artifact = recommending.current_model(content_type)
    if artifact is None:
        popular = [s.item_id for s in get_interaction_store().popular_items(content_type, limit=CANDIDATES)]
        return {user_id: _Shown(content_type, popular, "") for user_id in user_ids}
    batch = Recommender(artifact).recommend_batch(np.asarray(user_ids, dtype=np.int64), k=CANDIDATES)
    return {
        user_id: _Shown(
            content_type,
            [str(artifact.item_ids[i]) for i in batch.item_indices[row].tolist() if i >= 0],
            artifact.version,
        )
        for row, user_id in enumerate(user_ids)
    }


@dataclass(frozen=True)
class _Shown:
    """One user's sessions in one type: what the model shows them, and under which version."""

    content_type: ContentType
    items: list[str]
    version: str


def _user_events(user_id: int, shown: _Shown, *, days: int, now: datetime, seed: int) -> list[EventInput]:
    events: list[EventInput] = []
    items, ct = shown.items, shown.content_type.value
    if len(items) < SHOWN_PER_SESSION:
        return events
    for days_ago in range(days - 1, -1, -1):
        day = (now - timedelta(days=days_ago)).astimezone(UTC).date()
        # One generator per user, type and calendar day: a day's events are the same whatever --days says,
        # and their ids name the day, so a run over fewer or more days stores nothing twice.
        rng = np.random.default_rng([seed, user_id, _TYPE_NUMBER[shown.content_type], day.toordinal()])
        if rng.random() > ACTIVE_SHARE:
            continue
        # Within its day (UTC) and not after now: the day the dashboard counts it on is the day its id names.
        day_start = datetime.combine(day, time.min, tzinfo=UTC)
        at = max(day_start, min(day_start + timedelta(hours=float(rng.uniform(0, 24))), now - timedelta(minutes=1)))
        click_rate = 0.10 + 0.08 * (1 - min(days_ago, TREND_DAYS) / TREND_DAYS)
        start = (day.toordinal() * 3) % (len(items) - SHOWN_PER_SESSION + 1)
        for position, item_id in enumerate(items[start : start + SHOWN_PER_SESSION]):
            kinds = ["view"]
            if rng.random() < click_rate * 2 / (position + 2):
                kinds += ["click", "like"] if rng.random() < 0.4 else ["click"]
            elif rng.random() < 0.08:
                kinds.append("skip")
            events += [
                EventInput(
                    client_event_id=f"demo-{ct}-{day.isoformat()}-{position}-{kind}",
                    content_type=ct,
                    item_id=item_id,
                    event=kind,
                    position=position,
                    model_version=shown.version,
                    created_at=at,
                )
                for kind in kinds
            ]
    return events


async def seed_demo_events(*, user_ids: list[int], days: int, seed: int = 2026) -> DemoEvents:
    """``days`` days of events of these users in every content type, then those days rolled up."""
    now = timezone.now()
    shown = {ct: await sync_to_async(_shown_items)(ct, user_ids) for ct in ContentType}
    stored = 0
    for user_id in user_ids:
        # All types of a user in as few batches as the writer takes: each batch is a transaction (a commit).
        events = [
            e for ct in ContentType for e in _user_events(user_id, shown[ct][user_id], days=days, now=now, seed=seed)
        ]
        for start in range(0, len(events), MAX_BATCH):
            recorded = await recommendation_events_record(user_id=user_id, events=events[start : start + MAX_BATCH])
            stored += len(recorded.stored)
    rows = 0
    for days_ago in range(days - 1, -1, -1):
        rows += len(await sync_to_async(daily_metrics_aggregate)(day=(now - timedelta(days=days_ago)).date()))
    return DemoEvents(accounts=len(user_ids), stored=stored, days=days, metric_rows=rows)
