"""The admin metrics dashboard: selectors' numbers shaped into charts and summary figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from analytics import charts, selectors
from analytics.selectors import Totals
from recommendations.models import TrainingLog

MAX_DAYS = 366


@dataclass(frozen=True)
class Dashboard:
    since: date
    until: date
    totals: Totals
    summary: tuple[tuple[str, str], ...]
    line_charts: tuple[charts.LineChart, ...]
    positions: charts.BarChart
    training_charts: tuple[charts.LineChart, ...]
    training_runs: tuple[TrainingLog, ...]


def _training_series(runs: list[TrainingLog], metric: str) -> dict[str, list[tuple[datetime, float]]]:
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for run in runs:
        value = getattr(run, metric)
        if value is not None:
            series[run.content_type].append((run.started_at, value))
    return dict(series)


def build_dashboard(*, days: int, today: date) -> Dashboard:
    since = today - timedelta(days=days - 1)
    by_type = selectors.daily_rates(since=since, until=today, by="content_type")
    by_variant = selectors.daily_rates(since=since, until=today, by="variant")

    def ctr(series: dict[str, list[selectors.DayRates]]) -> dict[str, list[tuple[date, float]]]:
        return {key: [(day.date, day.ctr) for day in points] for key, points in series.items()}

    def engagement(series: dict[str, list[selectors.DayRates]]) -> dict[str, list[tuple[date, float]]]:
        return {key: [(day.date, day.engagement_rate) for day in points] for key, points in series.items()}

    line_charts = (
        charts.line_chart("CTR by content type", ctr(by_type), fmt=charts.percent),
        charts.line_chart("Engagement by content type", engagement(by_type), fmt=charts.percent),
        charts.line_chart("CTR by A/B variant", ctr(by_variant), fmt=charts.percent),
        charts.line_chart("Engagement by A/B variant", engagement(by_variant), fmt=charts.percent),
    )
    positions = selectors.click_position_counts(since=since, until=today)
    runs = selectors.training_history(limit=50)
    training_charts = (
        charts.line_chart("Training AUC", _training_series(runs, "auc"), fmt=charts.number),
        charts.line_chart("Training NDCG@k", _training_series(runs, "ndcg_at_k"), fmt=charts.number),
        charts.line_chart("Training precision@k", _training_series(runs, "precision_at_k"), fmt=charts.number),
    )
    totals = selectors.metric_totals(since=since, until=today)
    counts = totals.counts
    summary = (
        ("impressions", f"{counts.impressions:,}"),
        ("clicks", f"{counts.clicks:,}"),
        ("CTR", charts.percent(counts.ctr)),
        ("engagement", charts.percent(counts.engagement_rate)),
        ("likes / dislikes", f"{counts.likes:,} / {counts.dislikes:,}"),
        ("skips", f"{counts.skips:,}"),
        ("user-days", f"{totals.user_days:,}"),
    )
    return Dashboard(
        since=since,
        until=today,
        totals=totals,
        summary=summary,
        line_charts=line_charts,
        positions=charts.bar_chart(
            "Clicks by position", {str(position): clicks for position, clicks in positions.items()}
        ),
        training_charts=training_charts,
        training_runs=tuple(reversed(runs[-10:])),
    )
