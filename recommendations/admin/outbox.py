"""The interaction outbox: accepted feedback the store has not taken yet, and a drain of it queued for the worker."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from musicbud.admin_base import ReadOnlyAdmin
from recommendations import tasks
from recommendations.models import PendingInteraction


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

    @admin.action(description="Drain the outbox now (every user's changes, in order, by the worker)")
    def drain_outbox(self, request: HttpRequest, queryset: QuerySet[PendingInteraction]) -> None:
        # Queued, not run here: a store that is slow or starting must not hold an admin request (the worker waits).
        result = tasks.drain_all.enqueue()
        self.message_user(
            request,
            f"A drain of every user's changes is queued for the worker (task {result.id}); "
            "reload this page to see what is left.",
            messages.SUCCESS,
        )
