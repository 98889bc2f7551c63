"""Admin pages: events, metrics dashboard and training logs render for staff and are refused to others."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from analytics.models import DailyMetric, RecommendationEvent
from analytics.services import daily_metrics_aggregate
from recommendations.models import TrainingLog, TrainingStatus
from tests.analytics.factories import PASSWORD, stored_event

pytestmark = pytest.mark.django_db

EVENTS = "/admin/analytics/recommendationevent/"
METRICS = "/admin/analytics/dailymetric/"
DASHBOARD = "/admin/analytics/dailymetric/dashboard/"
TRAINING = "/admin/recommendations/traininglog/"
START = "/admin/recommendations/traininglog/start/"


@pytest.fixture
def seeded(admin_user: Any) -> None:
    now = timezone.now()
    events = []
    for days_ago in range(5):
        at = now - timedelta(days=days_ago)
        events += [stored_event(admin_user, "view", at, position=p) for p in range(4)]
        events += [stored_event(admin_user, "click", at, position=days_ago % 3)]
        events += [stored_event(admin_user, "like", at, content_type="anime", variant="popular", item_id="5114")]
    RecommendationEvent.objects.bulk_create(events)
    for days_ago in range(5):
        daily_metrics_aggregate(day=(now - timedelta(days=days_ago)).date())
    TrainingLog.objects.create(
        content_type="movies",
        status=TrainingStatus.SUCCEEDED,
        triggered_by="cron",
        duration_s=75.0,
        auc=0.91,
        ndcg_at_k=0.31,
        precision_at_k=0.2,
        recall_at_k=0.1,
        started_at=now - timedelta(days=2),
    )
    TrainingLog.objects.create(
        content_type="anime",
        status=TrainingStatus.FAILED,
        triggered_by="cli",
        error="LightFM diverged: NaN loss",
        started_at=now - timedelta(days=1),
    )


@pytest.fixture
def staff_client(client: Client, django_user_model: Any) -> tuple[Client, Any]:
    staff = django_user_model.objects.create_user(username="staff", password=PASSWORD, is_staff=True)
    client.force_login(staff)
    return client, staff


def test_the_events_list_shows_colored_event_badges(admin_client: Client, seeded: None) -> None:
    response = admin_client.get(EVENTS)

    assert response.status_code == 200
    assert b'class="analytics-badge" style="background:#2563eb' in response.content  # a click
    assert b"View (impression)" in response.content


def test_the_events_list_filters_by_type_event_variant_and_day(admin_client: Client, seeded: None) -> None:
    today = timezone.now().date()
    day = {"created_at__day": today.day, "created_at__month": today.month, "created_at__year": today.year}

    query: dict[str, str | int] = {"content_type": "anime", "event": "like", "variant": "popular", **day}

    response = admin_client.get(EVENTS, query)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_the_events_list_searches_by_user_and_by_item(admin_client: Client, seeded: None) -> None:
    by_item = admin_client.get(EVENTS, {"q": "5114"})
    by_user = admin_client.get(EVENTS, {"q": "admin"})

    assert by_item.context["cl"].result_count == 5
    assert by_user.context["cl"].result_count == RecommendationEvent.objects.count()


def test_events_cannot_be_added_changed_or_deleted(admin_client: Client, seeded: None) -> None:
    event = RecommendationEvent.objects.first()
    assert event is not None

    assert admin_client.get(EVENTS + "add/").status_code == 403
    assert admin_client.post(f"{EVENTS}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.post(f"{EVENTS}{event.pk}/change/", {"event": "like"}).status_code == 403


def test_the_dashboard_renders_charts_and_summary_for_staff(admin_client: Client, seeded: None) -> None:
    response = admin_client.get(DASHBOARD)

    assert response.status_code == 200
    html = response.content.decode()
    # 4 rate charts with one line per content type/variant (2 each) and 3 training charts (1 line each).
    assert html.count('<path class="series"') == 4 * 2 + 1 + 1 + 1
    assert html.count('<rect class="bar"') == 3  # clicked positions 0, 1, 2
    assert "CTR by A/B variant" in html
    assert "Failed" in html  # the training runs table
    assert response.context["dashboard"].totals.counts.impressions == 20


def test_the_dashboard_period_comes_from_the_query_and_is_bounded(admin_client: Client, seeded: None) -> None:
    assert admin_client.get(DASHBOARD, {"days": "7"}).context["days"] == 7
    assert admin_client.get(DASHBOARD, {"days": "100000"}).context["days"] == 30
    assert admin_client.get(DASHBOARD, {"days": "abc"}).context["days"] == 30


def test_the_dashboard_renders_without_any_data(admin_client: Client) -> None:
    response = admin_client.get(DASHBOARD)

    assert response.status_code == 200
    assert b"No data in this period." in response.content


def test_anonymous_visitors_are_sent_to_the_login_page(client: Client) -> None:
    for url in (EVENTS, DASHBOARD, TRAINING, START):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_logged_in_non_staff_users_are_sent_to_the_login_page(client: Client, django_user_model: Any) -> None:
    client.force_login(django_user_model.objects.create_user(username="user", password=PASSWORD))

    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_view_permission_get_403(staff_client: tuple[Client, Any]) -> None:
    client, _ = staff_client

    assert client.get(DASHBOARD).status_code == 403
    assert client.get(EVENTS).status_code == 403
    assert client.get(START).status_code == 403


def test_staff_with_the_view_permission_see_the_dashboard(staff_client: tuple[Client, Any]) -> None:
    client, staff = staff_client
    staff.user_permissions.add(Permission.objects.get(codename="view_dailymetric"))

    assert client.get(DASHBOARD).status_code == 200
    assert client.get(METRICS).status_code == 200


def test_training_logs_show_status_duration_metrics_and_error(admin_client: Client, seeded: None) -> None:
    response = admin_client.get(TRAINING)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'style="background:#dc2626' in html  # failed
    assert 'style="background:#16a34a' in html  # succeeded
    assert "1 min 15 s" in html
    assert "0.91" in html
    assert "LightFM diverged: NaN loss" in html
    assert START in html


@pytest.fixture
def queued_trainings(settings: Any) -> Callable[[], list[tuple[Any, ...]]]:
    """Tasks go to the database queue (no worker runs here): what a start queued is read back from it.

    Returns (content type, status, triggered by, heartbeat) per queued training task: the worker's side is tested in
    tests/api/test_training_api.py and tests/reliability/test_worker_killed.py."""
    from django_tasks_db.models import DBTaskResult

    from tests.conftest import DATABASE_TASKS

    settings.TASKS = {**settings.TASKS, "default": {**settings.TASKS["default"], "BACKEND": DATABASE_TASKS}}

    def queued() -> list[tuple[Any, ...]]:
        tasks = DBTaskResult.objects.filter(task_path="recommendations.tasks.train").order_by("enqueued_at")
        log_ids = [task.args_kwargs["kwargs"]["log_id"] for task in tasks]
        logs = TrainingLog.objects.in_bulk(log_ids)
        return [(logs[i].content_type, logs[i].status, logs[i].triggered_by, logs[i].heartbeat_at) for i in log_ids]

    return queued


def test_the_admin_action_queues_training_of_the_selected_content_types(
    admin_client: Client, seeded: None, queued_trainings: Callable[[], list[Any]]
) -> None:
    ids = list(TrainingLog.objects.values_list("pk", flat=True))

    response = admin_client.post(TRAINING, {"action": "retrain_content_types", "_selected_action": ids}, follow=True)

    admin = f"admin:{User.objects.get(username='admin').pk}"
    assert queued_trainings() == [("anime", "running", admin, None), ("movies", "running", admin, None)]
    run_ids = list(TrainingLog.objects.filter(status="running").order_by("content_type").values_list("pk", flat=True))
    assert f"Started training of anime, movies (log ids {run_ids})" in response.content.decode()


def test_the_start_page_queues_a_training_without_any_previous_run(
    admin_client: Client, queued_trainings: Callable[[], list[Any]]
) -> None:
    assert admin_client.get(START).status_code == 200

    response = admin_client.post(START, {"content_types": ["manga"]}, follow=True)

    admin = f"admin:{User.objects.get(username='admin').pk}"
    assert queued_trainings() == [("manga", "running", admin, None)]
    assert response.redirect_chain[-1][0] == TRAINING


def test_a_refused_start_is_an_admin_error_message(
    admin_client: Client, seeded: None, queued_trainings: Callable[[], list[Any]]
) -> None:
    from recommendations.domain import ContentType
    from recommendations.training import acquire_training

    acquire_training(ContentType.MOVIES, triggered_by="cli")

    response = admin_client.post(START, {"content_types": ["movies"]}, follow=True)

    assert response.status_code == 200
    assert "Training not started" in response.content.decode()
    assert queued_trainings() == []


def test_metrics_rows_can_be_recomputed_from_the_admin(admin_client: Client, seeded: None) -> None:
    DailyMetric.objects.update(clicks=999)

    admin_client.post(
        METRICS,
        {"action": "recompute_days", "_selected_action": list(DailyMetric.objects.values_list("pk", flat=True))},
    )

    assert not DailyMetric.objects.filter(clicks=999).exists()
