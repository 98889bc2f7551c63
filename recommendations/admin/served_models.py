"""The models page: per content type the served version beside popularity, every candidate, the kept versions,
and rolling back to one of them (confirmed first)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from musicbud.admin_base import PageAdmin, message_for_error, staff_id
from musicbud.errors import MusicBudError
from recommendations import publishing
from recommendations.domain import ContentType
from recommendations.models import ServedModel


@admin.register(ServedModel)
class ServedModelAdmin(PageAdmin):
    def page_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("", view(self.models_view), name=self.url_name("changelist")),
            path(
                "<str:content_type>/rollback/<str:version>/", view(self.rollback_view), name=self.url_name("rollback")
            ),
        ]

    def models_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = self.page_context(
            request, "Models", overview=publishing.model_overview(), can_roll_back=self.has_change_permission(request)
        )
        return TemplateResponse(request, "admin/recommendations/models/overview.html", context)

    def rollback_view(self, request: HttpRequest, content_type: str, version: str) -> HttpResponse:
        """GET: what the roll back would change, and a button; POST: roll back, then back to the models page."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        models_page = reverse(f"admin:{self.url_name('changelist')}")
        if content_type not in {ct.value for ct in ContentType}:
            messages.error(request, f"Unknown content type {content_type!r}.")
            return HttpResponseRedirect(models_page)
        ct = ContentType(content_type)
        if request.method == "POST":
            try:
                log = publishing.roll_back(content_type=ct, version=version, by_user_id=staff_id(request))
            except MusicBudError as exc:
                messages.error(request, f"Not rolled back: {message_for_error(exc)}")
                return HttpResponseRedirect(models_page)
            before = log.metrics.get("rolled_back_from")
            messages.success(request, f"{content_type} now serves {version} (was {before}); training log {log.pk}.")
            return HttpResponseRedirect(models_page)
        models = publishing.type_models(ct)
        target = next((v for v in models.versions if v.version == version), None)
        if target is None or target.served or target.error:
            why = "is the one being served" if target and target.served else "cannot be served"
            messages.error(request, f"{content_type} {version} {why if target else 'is not kept on disk'}.")
            return HttpResponseRedirect(models_page)
        context = self.page_context(
            request, f"Roll {content_type} back to {version}?", models=models, target=target, content_type=content_type
        )
        return TemplateResponse(request, "admin/recommendations/models/rollback.html", context)
