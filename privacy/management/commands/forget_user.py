"""Staff: have this service forget one user (an erasure request, an account deletion)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError, CommandParser

from musicbud.errors import MusicBudError
from privacy.lookup import find_subject
from privacy.services import user_forget


class Command(BaseCommand):
    help = "Erase a user's interactions, events, queued changes, cached pages and bud setting (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "user",
            help="the user's id, or their username (as the admin's user lookup takes); the account itself is left "
            "alone (required)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            subject = find_subject(options["user"])  # the same reading of "id or username" as the admin's lookup
        except MusicBudError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        forgotten = async_to_sync(user_forget)(user_id=subject.user_id, requested_by="staff (forget_user)")
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
