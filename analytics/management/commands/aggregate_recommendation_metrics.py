"""Cron: recompute daily recommendation metrics (default: the last EVENTS_MAX_AGE_DAYS days and today, UTC).

Events are accepted up to EVENTS_MAX_AGE_DAYS late (offline clients), so every day they can still land on is
recomputed. Idempotent."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from analytics.services import daily_metrics_aggregate


class Command(BaseCommand):
    help = "Aggregate recommendation events into DailyMetric rows, one UTC day at a time."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--date",
            type=date.fromisoformat,
            help="one day, YYYY-MM-DD (default: the last EVENTS_MAX_AGE_DAYS days to today)",
        )
        group.add_argument(
            "--since",
            type=date.fromisoformat,
            help="every day from YYYY-MM-DD to today (default: the last EVENTS_MAX_AGE_DAYS days)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.now().date()
        first: date = options["date"] or options["since"] or today - timedelta(days=settings.EVENTS_MAX_AGE_DAYS)
        last: date = options["date"] or today
        if first > today:
            raise CommandError(f"{first} is in the future")
        day = first
        while day <= last:
            metrics = daily_metrics_aggregate(day=day)
            self.stdout.write(f"{day.isoformat()}: {len(metrics)} metric rows")
            day += timedelta(days=1)
