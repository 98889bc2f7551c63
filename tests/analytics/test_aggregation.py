"""Daily metrics against numbers computed by hand for a fixture day, and re-aggregation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone as django_timezone

from analytics.models import DailyMetric, RecommendationEvent
from analytics.services import daily_metrics_aggregate
from tests.analytics.factories import PASSWORD, stored_event

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)
START = datetime(2026, 3, 10, tzinfo=UTC)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


@pytest.fixture
def users(django_user_model: Any) -> list[Any]:
    return [django_user_model.objects.create_user(username=f"u{i}", password=PASSWORD) for i in (1, 2, 3)]


@pytest.fixture
def fixture_day(users: list[Any]) -> None:
    u1, u2, u3 = users
    RecommendationEvent.objects.bulk_create(
        [
            # movies / control: u1 and u2
            stored_event(u1, "view", START, position=0),  # the first instant of the day belongs to it
            stored_event(u1, "view", at(1), position=1),
            stored_event(u1, "view", at(1), position=2),
            stored_event(u1, "click", at(2), position=1),
            stored_event(u1, "like", at(2), position=1),
            stored_event(u2, "view", at(23.99), position=0),
            stored_event(u2, "view", at(23.99), position=1),
            stored_event(u2, "click", at(23.99), position=0),
            stored_event(u2, "skip", at(23.99), position=1),
            stored_event(u2, "dislike", at(23.99), position=0),
            # movies / popular: u3; one click without a position counts as a click but not in the positions
            stored_event(u3, "view", at(5), variant="popular", position=0),
            stored_event(u3, "view", at(5), variant="popular", position=1),
            stored_event(u3, "view", at(5), variant="popular", position=2),
            stored_event(u3, "view", at(5), variant="popular", position=3),
            stored_event(u3, "click", at(6), variant="popular", position=3),
            stored_event(u3, "click", at(6), variant="popular"),
            # anime / control: a like without any impression
            stored_event(u1, "like", at(12), content_type="anime", item_id="5114"),
            # Outside the UTC day: the instant before, the first instant after, and 01:00 at UTC+2.
            stored_event(u1, "click", START - timedelta(microseconds=1), position=9),
            stored_event(u1, "click", START + timedelta(days=1), position=9),
            stored_event(u3, "view", datetime(2026, 3, 10, 1, tzinfo=timezone(timedelta(hours=2))), variant="popular"),
        ]
    )


def metrics() -> dict[tuple[str, str], dict[str, Any]]:
    fields = [
        "impressions",
        "clicks",
        "likes",
        "dislikes",
        "skips",
        "distinct_users",
        "ctr",
        "engagement_rate",
        "mean_click_position",
        "click_positions",
    ]
    return {
        (m["content_type"], m["variant"]): {f: m[f] for f in fields}
        for m in DailyMetric.objects.filter(date=DAY).values("content_type", "variant", *fields)
    }


EXPECTED = {
    ("movies", "control"): {
        "impressions": 5,
        "clicks": 2,
        "likes": 1,
        "dislikes": 1,
        "skips": 1,
        "distinct_users": 2,
        "ctr": pytest.approx(2 / 5),
        "engagement_rate": pytest.approx((2 + 1) / 5),
        "mean_click_position": pytest.approx(0.5),
        "click_positions": {"0": 1, "1": 1},
    },
    ("movies", "popular"): {
        "impressions": 4,
        "clicks": 2,
        "likes": 0,
        "dislikes": 0,
        "skips": 0,
        "distinct_users": 1,
        "ctr": pytest.approx(0.5),
        "engagement_rate": pytest.approx(0.5),
        "mean_click_position": pytest.approx(3.0),
        "click_positions": {"3": 1},
    },
    ("anime", "control"): {
        "impressions": 0,
        "clicks": 0,
        "likes": 1,
        "dislikes": 0,
        "skips": 0,
        "distinct_users": 1,
        "ctr": 0.0,
        "engagement_rate": 0.0,
        "mean_click_position": None,
        "click_positions": {},
    },
}


@pytest.mark.usefixtures("fixture_day")
def test_a_day_aggregates_to_the_hand_computed_numbers() -> None:
    daily_metrics_aggregate(day=DAY)

    assert metrics() == EXPECTED


@pytest.mark.usefixtures("fixture_day")
def test_aggregation_is_two_queries_over_the_events_whatever_their_number(
    django_assert_max_num_queries: Any,
) -> None:
    # 2 grouped reads + savepoint/delete/upsert; no query per event or per group.
    with django_assert_max_num_queries(6):
        daily_metrics_aggregate(day=DAY)


@pytest.mark.usefixtures("fixture_day")
def test_aggregating_a_day_twice_gives_the_same_rows() -> None:
    daily_metrics_aggregate(day=DAY)
    ids = sorted(DailyMetric.objects.values_list("id", flat=True))

    daily_metrics_aggregate(day=DAY)

    assert metrics() == EXPECTED
    assert sorted(DailyMetric.objects.values_list("id", flat=True)) == ids


@pytest.mark.usefixtures("fixture_day")
def test_re_aggregation_follows_the_events(users: list[Any]) -> None:
    daily_metrics_aggregate(day=DAY)
    RecommendationEvent.objects.filter(content_type="anime").delete()
    stored_event(users[2], "click", at(3), position=2).save()

    daily_metrics_aggregate(day=DAY)

    result = metrics()
    assert set(result) == {("movies", "control"), ("movies", "popular")}
    assert result["movies", "control"]["clicks"] == 3
    assert result["movies", "control"]["distinct_users"] == 3
    assert result["movies", "control"]["click_positions"] == {"0": 1, "1": 1, "2": 1}


def test_a_day_without_events_has_no_rows() -> None:
    assert daily_metrics_aggregate(day=DAY) == []
    assert not DailyMetric.objects.exists()


@pytest.mark.usefixtures("fixture_day")
def test_the_command_aggregates_one_given_date() -> None:
    out = StringIO()

    call_command("aggregate_recommendation_metrics", "--date", "2026-03-10", stdout=out)

    assert metrics() == EXPECTED
    assert out.getvalue() == "2026-03-10: 3 metric rows\n"


@pytest.mark.usefixtures("fixture_day")
def test_the_command_aggregates_every_day_since_a_date() -> None:
    today = django_timezone.now().date()
    out = StringIO()

    call_command("aggregate_recommendation_metrics", "--since", "2026-03-09", stdout=out)

    assert set(DailyMetric.objects.values_list("date", flat=True)) == {date(2026, 3, 9), DAY, date(2026, 3, 11)}
    assert len(out.getvalue().splitlines()) == (today - date(2026, 3, 9)).days + 1


def test_the_command_defaults_to_every_day_a_late_event_can_still_land_on(users: list[Any], settings: Any) -> None:
    settings.EVENTS_MAX_AGE_DAYS = 3
    now = django_timezone.now()
    RecommendationEvent.objects.bulk_create(
        [stored_event(users[0], "view", now - timedelta(days=n)) for n in (0, 3, 4)]
    )
    out = StringIO()

    call_command("aggregate_recommendation_metrics", stdout=out)

    today = now.date()
    # Events are accepted up to EVENTS_MAX_AGE_DAYS late: those days are recomputed, older ones are final.
    assert set(DailyMetric.objects.values_list("date", flat=True)) == {today - timedelta(days=3), today}
    assert len(out.getvalue().splitlines()) == 4


def test_the_command_refuses_a_future_date() -> None:
    with pytest.raises(CommandError):
        call_command("aggregate_recommendation_metrics", "--date", "2999-01-01")
