"""Reads of the analytics app: per-user and per-item analytics over events, and the dashboard's series.

Per-user and per-item numbers are queries over the events (never stored copies); the dashboard reads
the daily rollups, which stay small whatever the event volume.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from django.db.models import Count, F, Q, Sum

from analytics.models import (
    DailyMetric,
    EventKind,
    RecommendationEvent,
    click_through_rate,
    engagement_rate,
)
from recommendations.models import TrainingLog


@dataclass(frozen=True)
class EventCounts:
    impressions: int = 0
    clicks: int = 0
    likes: int = 0
    dislikes: int = 0
    skips: int = 0

    @property
    def ctr(self) -> float:
        return click_through_rate(clicks=self.clicks, impressions=self.impressions)

    @property
    def engagement_rate(self) -> float:
        return engagement_rate(clicks=self.clicks, likes=self.likes, impressions=self.impressions)


_COUNTS = {
    "impressions": Count("id", filter=Q(event=EventKind.VIEW)),
    "clicks": Count("id", filter=Q(event=EventKind.CLICK)),
    "likes": Count("id", filter=Q(event=EventKind.LIKE)),
    "dislikes": Count("id", filter=Q(event=EventKind.DISLIKE)),
    "skips": Count("id", filter=Q(event=EventKind.SKIP)),
}


def _counts(row: Mapping[str, Any]) -> EventCounts:
    # Sums over no rows are NULL, counts are 0: both mean "none".
    return EventCounts(**{field: row[field] or 0 for field in _COUNTS})


def user_event_counts(*, user_id: int, since: datetime | None = None) -> dict[str, EventCounts]:
    """Per content type: what this user was shown and did (one grouped query)."""
    events = RecommendationEvent.objects.filter(user_id=user_id)
    if since is not None:
        events = events.filter(created_at__gte=since)
    rows = events.values("content_type").annotate(**_COUNTS).order_by("content_type")
    return {row["content_type"]: _counts(row) for row in rows}


@dataclass(frozen=True)
class ItemStats:
    counts: EventCounts
    distinct_users: int


def item_event_stats(*, content_type: str, item_id: str, since: datetime | None = None) -> ItemStats:
    """How one item performed as a recommendation (one aggregate query)."""
    events = RecommendationEvent.objects.filter(content_type=content_type, item_id=item_id)
    if since is not None:
        events = events.filter(created_at__gte=since)
    row = events.aggregate(**_COUNTS, distinct_users=Count("user_id", distinct=True))
    return ItemStats(counts=_counts(row), distinct_users=row["distinct_users"])


@dataclass(frozen=True)
class DayRates:
    date: date
    impressions: int
    clicks: int
    likes: int

    @property
    def ctr(self) -> float:
        return click_through_rate(clicks=self.clicks, impressions=self.impressions)

    @property
    def engagement_rate(self) -> float:
        return engagement_rate(clicks=self.clicks, likes=self.likes, impressions=self.impressions)


def daily_rates(*, since: date, until: date, by: Literal["content_type", "variant"]) -> dict[str, list[DayRates]]:
    """Per content type (or per variant), one point per day with events, oldest first.

    Rates are recomputed from summed counts: averaging daily or per-variant CTRs would weight a quiet
    variant like a busy one.
    """
    rows = (
        DailyMetric.objects.filter(date__gte=since, date__lte=until)
        .values("date", key=F(by))
        .annotate(impressions=Sum("impressions"), clicks=Sum("clicks"), likes=Sum("likes"))
        .order_by("key", "date")
    )
    series: dict[str, list[DayRates]] = defaultdict(list)
    for row in rows:
        series[row["key"]].append(
            DayRates(date=row["date"], impressions=row["impressions"], clicks=row["clicks"], likes=row["likes"])
        )
    return dict(series)


@dataclass(frozen=True)
class Totals:
    counts: EventCounts
    # Sum of daily distinct users: a user active on two days counts twice.
    user_days: int
    days: int


def metric_totals(*, since: date, until: date) -> Totals:
    row = DailyMetric.objects.filter(date__gte=since, date__lte=until).aggregate(
        impressions=Sum("impressions"),
        clicks=Sum("clicks"),
        likes=Sum("likes"),
        dislikes=Sum("dislikes"),
        skips=Sum("skips"),
        user_days=Sum("distinct_users"),
        days=Count("date", distinct=True),
    )
    return Totals(counts=_counts(row), user_days=row["user_days"] or 0, days=row["days"])


def click_position_counts(*, since: date, until: date) -> dict[int, int]:
    """Clicks per shown position over the period, summed from the daily distributions."""
    counts: dict[int, int] = defaultdict(int)
    distributions = DailyMetric.objects.filter(date__gte=since, date__lte=until).values_list(
        "click_positions", flat=True
    )
    for distribution in distributions:
        for position, clicks in distribution.items():
            counts[int(position)] += clicks
    return dict(sorted(counts.items()))


def training_history(*, limit: int = 50) -> list[TrainingLog]:
    """The latest finished-or-running training runs, oldest first (for a chart's x axis)."""
    return list(reversed(TrainingLog.objects.order_by("-started_at")[:limit]))


def recent_user_events(*, user_id: int, limit: int = 20) -> list[RecommendationEvent]:
    """One user's latest events, newest first (the index on user and time: no scan)."""
    return list(RecommendationEvent.objects.filter(user_id=user_id).order_by("-created_at", "-id")[:limit])
