"""DEBUG only: demo accounts and weeks of their feedback through the event writer, rolled up for the dashboard."""

from __future__ import annotations

import time
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.demo import demo_accounts, seed_demo_events


class Command(BaseCommand):
    help = "DEBUG only: create demo accounts, record weeks of their events, aggregate the daily metrics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--accounts", type=int, default=30, help="demo accounts, listener<id> (default: %(default)s)"
        )
        parser.add_argument(
            "--first-id",
            type=int,
            default=3,
            help="their first user id, an id the seeded store has (default: %(default)s)",
        )
        parser.add_argument("--days", type=int, help="days of events, ending today (default: EVENTS_MAX_AGE_DAYS)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo_events creates accounts: it only runs with DEBUG=true")
        days = options["days"] or settings.EVENTS_MAX_AGE_DAYS
        if not 1 <= days <= settings.EVENTS_MAX_AGE_DAYS:
            raise CommandError(f"--days must be 1 to EVENTS_MAX_AGE_DAYS ({settings.EVENTS_MAX_AGE_DAYS})")
        if options["accounts"] < 1 or options["first_id"] < 1:
            raise CommandError("--accounts and --first-id must be at least 1")
        started = time.perf_counter()
        user_ids = demo_accounts(first_id=options["first_id"], count=options["accounts"])
        seeded = async_to_sync(seed_demo_events)(user_ids=user_ids, days=days)
        self.stdout.write(
            f"demo events: {seeded.stored} new events of {seeded.accounts} accounts over {seeded.days} days, "
            f"{seeded.metric_rows} daily metric rows ({time.perf_counter() - started:.1f}s)"
        )
