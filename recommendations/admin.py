"""Admin of the recommender: training runs (their log, and starting new ones), and the interaction outbox."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.safestring import SafeString

from musicbud.admin_base import ReadOnlyAdmin, badge
from musicbud.errors import MusicBudError
from recommendations import caching
from recommendations.models import CONTENT_TYPE_CHOICES, PendingInteraction, TrainingLog, TrainingStatus
from recommendations.outbox import drain_pending

STATUS_COLORS = {
    TrainingStatus.RUNNING: "#2563eb",
    TrainingStatus.SUCCEEDED: "#16a34a",
    TrainingStatus.FAILED: "#dc2626",
    TrainingStatus.SKIPPED: "#6b7280",
}


class StartTrainingForm(forms.Form):
    content_types = forms.MultipleChoiceField(choices=CONTENT_TYPE_CHOICES, widget=forms.CheckboxSelectMultiple)


@admin.register(TrainingLog)
class TrainingLogAdmin(ReadOnlyAdmin):
    change_list_template = "admin/recommendations/traininglog/change_list.html"
    list_display = (
        "started_at",
        "content_type",
        "status_badge",
        "duration",
        "users",
        "items",
        "interactions",
        "auc",
        "precision_at_k",
        "recall_at_k",
        "ndcg_at_k",
        "k",
        "selection",
        "model_version",
        "triggered_by",
        "short_error",
    )
    list_filter = ("status", "content_type", "triggered_by")
    date_hierarchy = "started_at"
    actions = ["retrain_content_types"]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: TrainingLog) -> SafeString:
        return badge(obj.get_status_display(), STATUS_COLORS.get(TrainingStatus(obj.status), "#6b7280"))

    @admin.display(description="duration", ordering="duration_s")
    def duration(self, obj: TrainingLog) -> str:
        if obj.duration_s is None:
            return "-"
        minutes, seconds = divmod(obj.duration_s, 60)
        return f"{int(minutes)}m {seconds:.0f}s" if minutes else f"{seconds:.1f}s"

    @admin.display(description="chosen model (validation ndcg of each candidate)")
    def selection(self, obj: TrainingLog) -> str:
        # Written by recommendations.training: metrics["selection"] is engine Selection.summary().
        chosen = (obj.metrics or {}).get("selection") or {}
        if not chosen:
            return "-"
        scores = ", ".join(
            f"{model} {best.get('ndcg@' + str(chosen.get('k', obj.k)), 0):.3f}" if best else f"{model} skipped"
            # Sorted: a JSON column comes back from PostgreSQL in its own key order.
            for model, best in sorted((chosen.get("best_per_model") or {}).items())
        )
        return f"{chosen.get('candidate')} ({scores})"

    @admin.display(description="error")
    def short_error(self, obj: TrainingLog) -> str:
        return obj.error if len(obj.error) <= 120 else obj.error[:117] + "..."

    def has_start_permission(self, request: HttpRequest) -> bool:
        # Starting a run creates training logs: the model's "add" permission, not this admin's add form.
        return request.user.has_perm("recommendations.add_traininglog")

    def start_training(self, request: HttpRequest, content_types: list[str]) -> None:
        # Imported when used: it loads the training engine, which the rest of the admin never needs.
        from recommendations.training import start_training_run

        # The user's id, not their name: training logs hold no personal data.
        triggered_by = f"admin:{request.user.pk}"
        try:
            log_ids = start_training_run(content_types=content_types, triggered_by=triggered_by)
        except MusicBudError as exc:
            # A refusal with a stable code (a run of that type already in progress) is a message, not a 500.
            self.message_user(request, f"Training not started: {exc.message} ({exc.code})", messages.ERROR)
            return
        self.message_user(
            request, f"Started training of {', '.join(content_types)} (log ids {log_ids}).", messages.SUCCESS
        )

    @admin.action(description="Start training of the selected runs' content types", permissions=["start"])
    def retrain_content_types(self, request: HttpRequest, queryset: QuerySet[TrainingLog]) -> None:
        self.start_training(request, sorted(set(queryset.values_list("content_type", flat=True))))

    def get_urls(self) -> list[URLPattern]:
        start = path("start/", self.admin_site.admin_view(self.start_view), name="recommendations_traininglog_start")
        return [start, *super().get_urls()]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        """A form for the first run, when there is no row to select for the action."""
        if not self.has_start_permission(request):
            raise PermissionDenied
        form = StartTrainingForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            self.start_training(request, form.cleaned_data["content_types"])
            return HttpResponseRedirect(reverse("admin:recommendations_traininglog_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Start training",
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/recommendations/traininglog/start.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_start_training": self.has_start_permission(request)}
        return super().changelist_view(request, extra_context)


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
        async_to_sync(caching.invalidate_users)(summary.changed_users)
        level = messages.WARNING if summary.store_unavailable else messages.SUCCESS
        note = " The interaction store is unavailable." if summary.store_unavailable else ""
        self.message_user(
            request, f"Applied {summary.applied}, dropped {summary.dropped}; {summary.pending} pending.{note}", level
        )
