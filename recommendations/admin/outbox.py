"""The interaction outbox: accepted feedback the store has not taken yet, and draining it."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from musicbud.admin_base import ReadOnlyAdmin
from recommendations import caching
from recommendations.models import PendingInteraction
from recommendations.outbox import drain_pending


@admin.register(PendingInteraction)
class PendingInteractionAdmin(ReadOnlyAdmin):
    """The interaction outbox: accepted feedback the store has not taken yet (normally empty)."""

    list_display = (
        "id",
        "accepted_at",
        "user_id",
        "content_type",
        "item_id",
        "kind",
        "remove",
        "attempts",
        "last_error",
    )
    list_filter = ("content_type", "remove")
    ordering = ("id",)
    actions = ["drain_outbox"]

    @admin.action(description="Drain the outbox now (every user's changes, in order)")
    def drain_outbox(self, request: HttpRequest, queryset: QuerySet[PendingInteraction]) -> None:
        summary = drain_pending()
        note = ""
        try:
            async_to_sync(caching.invalidate_users)(summary.changed_users)
        except caching.InvalidationPending:
            note = " The cache did not answer: the users' cached pages are invalidated when it does (retried)."
        level = messages.WARNING if summary.store_unavailable or note else messages.SUCCESS
        note += " The interaction store is unavailable." if summary.store_unavailable else ""
        self.message_user(
            request, f"Applied {summary.applied}, dropped {summary.dropped}; {summary.pending} pending.{note}", level
        )
