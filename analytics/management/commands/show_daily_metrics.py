"""The daily recommendation metrics as a table (the dashboard's numbers, in a shell)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from analytics import selectors
from recommendations.domain import ContentType

DEFAULT_DAYS = 14


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


class Command(BaseCommand):
    help = "Print the daily metrics (impressions, clicks, likes, CTR, engagement) per day and content type."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=positive_int, default=DEFAULT_DAYS,
            help=f"the last N days, today (UTC) included (default: {DEFAULT_DAYS})",
        )  # fmt: skip
        parser.add_argument(
            "--type", choices=[ct.value for ct in ContentType], default=None,
            help="one content type (default: every type)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        days = int(options["days"])
        until = timezone.now().date()
        since = until - timedelta(days=days - 1)
        series = selectors.daily_rates(since=since, until=until, by="content_type")
        if options["type"]:
            series = {options["type"]: series.get(options["type"], [])}
        rows = sorted(((day.date, name, day) for name, points in series.items() for day in points), reverse=True)
        self.stdout.write(f"daily metrics {since} .. {until} (UTC), {len(rows)} rows")
        self.stdout.write(
            f"{'date':<10}  {'type':<6} {'impressions':>11} {'clicks':>7} {'likes':>6} {'CTR':>7} {'engagement':>10}"
        )
        for day, name, point in rows:
            self.stdout.write(
                f"{day.isoformat():<10}  {name:<6} {point.impressions:>11,} {point.clicks:>7,} {point.likes:>6,} "
                f"{point.ctr:>7.2%} {point.engagement_rate:>10.2%}"
            )
