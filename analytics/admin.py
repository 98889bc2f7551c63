"""Admin for analytics: read-only event and metric lists, and the metrics dashboard."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.safestring import SafeString

from analytics.dashboard import MAX_DAYS, build_dashboard
from analytics.models import DailyMetric, EventKind, RecommendationEvent
from analytics.services import daily_metrics_aggregate
from musicbud.admin_base import ReadOnlyAdmin, badge
from recommendations.experiments import CONTROL, current_experiment

EVENT_COLORS = {
    EventKind.VIEW: "#6b7280",
    EventKind.CLICK: "#2563eb",
    EventKind.LIKE: "#16a34a",
    EventKind.DISLIKE: "#dc2626",
    EventKind.SKIP: "#ca8a04",
}


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
        "click_position",
        "distinct_users",
    )
    list_filter = ("content_type", "variant")
    date_hierarchy = "date"
    actions = ["recompute_days"]

    @admin.display(description="CTR", ordering="ctr")
    def ctr_percent(self, obj: DailyMetric) -> str:
        return f"{obj.ctr * 100:.2f}%"

    @admin.display(description="mean click position", ordering="mean_click_position")
    def click_position(self, obj: DailyMetric) -> str:
        return "-" if obj.mean_click_position is None else f"{obj.mean_click_position:.2f}"

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
