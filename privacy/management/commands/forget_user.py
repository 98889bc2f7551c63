"""Staff: have this service forget one user (an erasure request, an account deletion)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandParser

from privacy.services import user_forget


class Command(BaseCommand):
    help = "Erase a user's interactions, events, queued changes, cached pages and bud setting (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id", type=int, help="the user's id (the account itself is left alone)")

    def handle(self, *args: Any, **options: Any) -> None:
        forgotten = async_to_sync(user_forget)(user_id=options["user_id"], requested_by="staff (forget_user)")
        self.stdout.write(
            f"forgotten (log reference {forgotten.reference}): {forgotten.interactions} interactions, "
            f"{forgotten.events} events, {forgotten.pending_changes} pending changes"
        )
        if forgotten.cache == "pending":
            self.stderr.write(
                f"warning: the cache did not answer: their cached pages and other users' bud lists may show them "
                f"until the recorded invalidation is retried ({forgotten.pending_invalidations} pending; "
                "at most RECOMMENDATIONS_CACHE_TTL)"
            )
        else:
            self.stdout.write("cache: invalidated (no cached answer shows them any more)")
