"""The user admin, with the erasure action: the same ``user_forget`` as the API and the command."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from privacy.services import user_forget

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ForgettingUserAdmin(UserAdmin):  # type: ignore[type-arg]  # UserAdmin is generic in the stubs only
    actions = ["forget_data"]

    @admin.action(description="Forget the selected users' data (events, interactions, bud setting)")
    def forget_data(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        references = [
            async_to_sync(user_forget)(user_id=pk, requested_by=f"admin:{request.user.pk}").reference
            for pk in queryset.values_list("pk", flat=True)
        ]
        self.message_user(
            request, f"Forgot {len(references)} users (log references: {', '.join(references)}).", messages.SUCCESS
        )
