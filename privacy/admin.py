"""The user admin with the erasure action (the same ``user_forget`` as the API and the command), and the user
lookup: one user as the recommender sees them, staff only, every look recorded (``privacy.lookup``)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from musicbud.admin_base import ReadOnlyAdmin, message_for_error
from musicbud.errors import MusicBudError
from privacy import lookup
from privacy.models import ProfileLookup
from privacy.services import user_forget

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ForgettingUserAdmin(UserAdmin):  # type: ignore[type-arg]  # UserAdmin is generic in the stubs only
    actions = ["forget_data"]
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "recommender_profile")

    @admin.display(description="recommender")
    def recommender_profile(self, obj: Any) -> SafeString:
        url = reverse("admin:privacy_profilelookup_lookup") + "?" + urlencode({"user": obj.pk})
        return format_html('<a href="{}">look up</a>', url)

    @admin.action(description="Forget the selected users' data (events, interactions, bud setting)")
    def forget_data(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        references = [
            async_to_sync(user_forget)(user_id=pk, requested_by=f"admin:{request.user.pk}").reference
            for pk in queryset.values_list("pk", flat=True)
        ]
        self.message_user(
            request, f"Forgot {len(references)} users (log references: {', '.join(references)}).", messages.SUCCESS
        )


class LookupForm(forms.Form):
    user = forms.CharField(max_length=150, label="User id or username")


@admin.register(ProfileLookup)
class ProfileLookupAdmin(ReadOnlyAdmin):
    """The record of who looked at whose profile (read-only), and the lookup page itself."""

    change_list_template = "admin/privacy/profilelookup/change_list.html"
    list_display = ("looked_at", "viewer_username", "subject_id")
    list_filter = ("viewer_username",)
    search_fields = ("=subject_id", "=viewer_username")
    date_hierarchy = "looked_at"
    ordering = ("-looked_at",)

    def has_lookup_permission(self, request: HttpRequest) -> bool:
        # A look creates a lookup record: the model's "add" permission, not this admin's add form.
        return request.user.has_perm("privacy.add_profilelookup")

    def get_urls(self) -> list[URLPattern]:
        page = path("lookup/", self.admin_site.admin_view(self.lookup_view), name="privacy_profilelookup_lookup")
        return [page, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_look_up": self.has_lookup_permission(request)}
        return super().changelist_view(request, extra_context)

    def lookup_view(self, request: HttpRequest) -> HttpResponse:
        """GET ?user=<id or username>: the user's profile, after recording the look. Reads only."""
        if not self.has_lookup_permission(request):
            raise PermissionDenied
        form = LookupForm(request.GET if "user" in request.GET else None)
        profile: lookup.UserProfile | None = None
        subject: lookup.Subject | None = None
        if form.is_valid():
            try:
                subject = lookup.find_subject(form.cleaned_data["user"])
            except MusicBudError as exc:
                form.add_error("user", message_for_error(exc))
        if subject is not None:
            lookup.record_lookup(viewer=request.user, subject_id=subject.user_id)  # type: ignore[arg-type]
            profile = async_to_sync(lookup.user_profile)(subject.user_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"User {subject.user_id}" if subject else "Look up a user",
            "opts": self.opts,
            "form": form,
            "subject": subject,
            "profile": profile,
        }
        return TemplateResponse(request, "admin/privacy/profilelookup/lookup.html", context)
