"""Training runs: their log, and starting new ones."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from musicbud.admin_base import ReadOnlyAdmin, badge
from musicbud.errors import MusicBudError
from recommendations.models import CONTENT_TYPE_CHOICES, TrainingLog, TrainingStatus

K: int = TrainingLog._meta.get_field("k").default  # the k of the holdout metrics (10)
STATUS_COLORS = {
    TrainingStatus.RUNNING: "#2563eb",
    TrainingStatus.SUCCEEDED: "#16a34a",
    TrainingStatus.FAILED: "#dc2626",
    TrainingStatus.SKIPPED: "#6b7280",
    TrainingStatus.ROLLED_BACK: "#9333ea",
}


class StartTrainingForm(forms.Form):
    content_types = forms.MultipleChoiceField(choices=CONTENT_TYPE_CHOICES, widget=forms.CheckboxSelectMultiple)


@admin.register(TrainingLog)
class TrainingLogAdmin(ReadOnlyAdmin):
    change_list_template = "admin/recommendations/traininglog/change_list.html"
    # What fits a 1366 px screen (tests/admin/test_admin_at_1366.py): metrics rounded to 3 places, the data
    # size in one column, who started a run and how long it took under its status, cells that wrap; the
    # version of a run's model is on its page and on the models page.
    list_display = (
        "started_at",
        "type_name",
        "status_badge",
        "data",
        "auc_rounded",
        "precision_rounded",
        "recall_rounded",
        "ndcg_rounded",
        "selection",
        "short_error",
    )
    list_filter = ("status", "content_type", "triggered_by")
    date_hierarchy = "started_at"
    actions = ["retrain_content_types"]

    @admin.display(description="type", ordering="content_type")
    def type_name(self, obj: TrainingLog) -> str:
        return obj.content_type

    @admin.display(description="status (by, duration)", ordering="status")
    def status_badge(self, obj: TrainingLog) -> SafeString:
        status = badge(obj.get_status_display(), STATUS_COLORS.get(TrainingStatus(obj.status), "#6b7280"))
        return format_html("{}<br>{}, {}", status, obj.triggered_by, self.duration(obj))

    @admin.display(description="duration", ordering="duration_s")
    def duration(self, obj: TrainingLog) -> str:
        if obj.duration_s is None:
            return "-"
        minutes, seconds = divmod(obj.duration_s, 60)
        return f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"

    @admin.display(description="data", ordering="interactions")
    def data(self, obj: TrainingLog) -> SafeString:
        if obj.interactions is None:
            return format_html("{}", "-")
        return format_html(
            "{} interactions<br>{} users, {} items", f"{obj.interactions:,}", _count(obj.users), _count(obj.items)
        )

    @admin.display(description="AUC", ordering="auc")
    def auc_rounded(self, obj: TrainingLog) -> str:
        return _rounded(obj.auc)

    @admin.display(description=f"P@{K}", ordering="precision_at_k")
    def precision_rounded(self, obj: TrainingLog) -> str:
        return _at_k(obj.precision_at_k, obj.k)

    @admin.display(description=f"R@{K}", ordering="recall_at_k")
    def recall_rounded(self, obj: TrainingLog) -> str:
        return _at_k(obj.recall_at_k, obj.k)

    @admin.display(description=f"NDCG@{K}", ordering="ndcg_at_k")
    def ndcg_rounded(self, obj: TrainingLog) -> str:
        return _at_k(obj.ndcg_at_k, obj.k)

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
        return obj.error if len(obj.error) <= 80 else obj.error[:77] + "..."

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


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _rounded(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _at_k(value: float | None, k: int) -> str:
    """A metric at k, rounded; a run at another k than the column's says its own."""
    if value is None:
        return "-"
    return f"{value:.3f}" if k == K else f"{value:.3f} (@{k})"
