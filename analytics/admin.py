"""Admin for analytics: read-only event and metric lists, the metrics dashboard, training runs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from analytics.dashboard import MAX_DAYS, build_dashboard
from analytics.models import (
    CONTENT_TYPE_CHOICES,
    DailyMetric,
    EventKind,
    RecommendationEvent,
    TrainingLog,
    TrainingStatus,
)
from analytics.services import daily_metrics_aggregate
from analytics.variants import CONTROL, current_experiment
from musicbud.errors import MusicBudError

EVENT_COLORS = {
    EventKind.VIEW: "#6b7280",
    EventKind.CLICK: "#2563eb",
    EventKind.LIKE: "#16a34a",
    EventKind.DISLIKE: "#dc2626",
    EventKind.SKIP: "#ca8a04",
}
STATUS_COLORS = {
    TrainingStatus.RUNNING: "#2563eb",
    TrainingStatus.SUCCEEDED: "#16a34a",
    TrainingStatus.FAILED: "#dc2626",
    TrainingStatus.SKIPPED: "#6b7280",
}


def badge(text: str, color: str) -> SafeString:
    return format_html(
        '<span class="analytics-badge" style="background:{};color:#fff;padding:1px 8px;border-radius:9px;'
        'font-size:11px;white-space:nowrap">{}</span>',
        color,
        text,
    )


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows written only by the application: staff look, never edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class VariantFilter(admin.SimpleListFilter):
    """Variants from the small rollup table and the settings: no DISTINCT over millions of events."""

    title = "A/B variant"
    parameter_name = "variant"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        experiment = current_experiment()
        variants = {CONTROL, *(experiment.variants if experiment else ())}
        variants.update(DailyMetric.objects.values_list("variant", flat=True).distinct())
        return [(variant, variant) for variant in sorted(variants)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(variant=self.value()) if self.value() else queryset


@admin.register(RecommendationEvent)
class RecommendationEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "user",
        "content_type",
        "item_id",
        "event_badge",
        "position",
        "variant",
        "model_version",
    )
    list_filter = ("content_type", "event", VariantFilter)
    date_hierarchy = "created_at"
    search_fields = ("user__username", "item_id")
    search_help_text = "Exact username, user id, item id or client event id."
    list_select_related = ("user",)
    ordering = ("-created_at",)
    # COUNT(*) of the unfiltered table is the slowest query of a large changelist.
    show_full_result_count = False

    @admin.display(description="event", ordering="event")
    def event_badge(self, obj: RecommendationEvent) -> SafeString:
        return badge(obj.get_event_display(), EVENT_COLORS.get(EventKind(obj.event), "#6b7280"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # Exact matches only: they use the indexes, where the default icontains scans every event.
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(user__username=term) | Q(item_id=term) | Q(client_event_id=term)
        if term.isdigit():
            match |= Q(user_id=int(term))
        return queryset.filter(match), False


class DashboardForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, required=False)


@admin.register(DailyMetric)
class DailyMetricAdmin(ReadOnlyAdmin):
    change_list_template = "admin/analytics/dailymetric/change_list.html"
    list_display = (
        "date",
        "content_type",
        "variant",
        "impressions",
        "clicks",
        "likes",
        "dislikes",
        "skips",
        "ctr_percent",
        "engagement_percent",
        "mean_click_position",
        "distinct_users",
    )
    list_filter = ("content_type", "variant")
    date_hierarchy = "date"
    actions = ["recompute_days"]

    @admin.display(description="CTR", ordering="ctr")
    def ctr_percent(self, obj: DailyMetric) -> str:
        return f"{obj.ctr * 100:.2f}%"

    @admin.display(description="engagement", ordering="engagement_rate")
    def engagement_percent(self, obj: DailyMetric) -> str:
        return f"{obj.engagement_rate * 100:.2f}%"

    @admin.action(description="Recompute the selected days from their events", permissions=["view"])
    def recompute_days(self, request: HttpRequest, queryset: QuerySet[DailyMetric]) -> None:
        days = sorted(set(queryset.values_list("date", flat=True)))
        for day in days:
            daily_metrics_aggregate(day=day)
        self.message_user(request, f"Recomputed {len(days)} day(s).", messages.SUCCESS)

    def get_urls(self) -> list[URLPattern]:
        dashboard = path(
            "dashboard/", self.admin_site.admin_view(self.dashboard_view), name="analytics_dailymetric_dashboard"
        )
        return [dashboard, *super().get_urls()]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = DashboardForm(request.GET)
        days = (form.cleaned_data["days"] if form.is_valid() else None) or 30
        context = {
            **self.admin_site.each_context(request),
            "title": "Recommendation metrics",
            "opts": self.opts,
            "days": days,
            "day_choices": (7, 30, 90, 365),
            "dashboard": build_dashboard(days=days, today=timezone.now().date()),
        }
        return TemplateResponse(request, "admin/analytics/dashboard.html", context)


class StartTrainingForm(forms.Form):
    content_types = forms.MultipleChoiceField(choices=CONTENT_TYPE_CHOICES, widget=forms.CheckboxSelectMultiple)


@admin.register(TrainingLog)
class TrainingLogAdmin(ReadOnlyAdmin):
    change_list_template = "admin/analytics/traininglog/change_list.html"
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
            for model, best in (chosen.get("best_per_model") or {}).items()
        )
        return f"{chosen.get('candidate')} ({scores})"

    @admin.display(description="error")
    def short_error(self, obj: TrainingLog) -> str:
        return obj.error if len(obj.error) <= 120 else obj.error[:117] + "..."

    def has_start_permission(self, request: HttpRequest) -> bool:
        # Starting a run creates training logs: the model's "add" permission, not this admin's add form.
        return request.user.has_perm("analytics.add_traininglog")

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
        start = path("start/", self.admin_site.admin_view(self.start_view), name="analytics_traininglog_start")
        return [start, *super().get_urls()]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        """A form for the first run, when there is no row to select for the action."""
        if not self.has_start_permission(request):
            raise PermissionDenied
        form = StartTrainingForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            self.start_training(request, form.cleaned_data["content_types"])
            return HttpResponseRedirect(reverse("admin:analytics_traininglog_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Start training",
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/analytics/traininglog/start.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_start_training": self.has_start_permission(request)}
        return super().changelist_view(request, extra_context)
