"""Cron (or by hand after an outage): apply every accepted interaction change the store has not taken yet."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations import caching
from recommendations.outbox import drain_pending, outbox_status


class Command(BaseCommand):
    help = "Drain the interaction outbox (each user's changes in order; per-user locks make runs safe at once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--status", action="store_true", help="only report what is pending (default: off, drain it)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["status"]:
            summary = drain_pending()
            try:
                async_to_sync(caching.invalidate_users)(summary.changed_users)
            except caching.InvalidationPending as exc:
                self.stderr.write(
                    f"warning: the cache did not answer; {exc.pending} invalidations pending (retried when it does)"
                )
            self.stdout.write(f"applied {summary.applied}, dropped {summary.dropped} ({summary.users} users)")
            if summary.store_unavailable:
                raise CommandError(f"the interaction store is unavailable: {summary.pending} changes still pending")
        status = outbox_status()
        self.stdout.write(
            f"pending {status.pending} ({status.users} users), oldest accepted {status.oldest_accepted_at or '-'}, "
            f"most attempts {status.most_attempts}"
        )
