"""Per-user and per-item analytics are queries over the events; dashboard series over the rollups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from analytics import selectors
from analytics.models import DailyMetric, RecommendationEvent
from analytics.services import daily_metrics_aggregate
from tests.analytics.factories import PASSWORD, stored_event

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def alice_and_bob(django_user_model: Any) -> tuple[Any, Any]:
    alice = django_user_model.objects.create_user(username="alice", password=PASSWORD)
    bob = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    RecommendationEvent.objects.bulk_create(
        [
            stored_event(alice, "view", NOON, item_id="tt1"),
            stored_event(alice, "view", NOON, item_id="tt2"),
            stored_event(alice, "click", NOON, item_id="tt1"),
            stored_event(alice, "like", NOON - timedelta(days=3), content_type="anime", item_id="1"),
            stored_event(bob, "view", NOON, item_id="tt1"),
            stored_event(bob, "skip", NOON, item_id="tt1"),
        ]
    )
    return alice, bob


def test_a_users_counts_are_per_content_type(alice_and_bob: tuple[Any, Any], django_assert_num_queries: Any) -> None:
    alice, _ = alice_and_bob

    with django_assert_num_queries(1):
        counts = selectors.user_event_counts(user_id=alice.pk)

    assert counts == {
        "anime": selectors.EventCounts(likes=1),
        "movies": selectors.EventCounts(impressions=2, clicks=1),
    }
    assert counts["movies"].ctr == 0.5


def test_a_users_counts_can_start_at_a_time(alice_and_bob: tuple[Any, Any]) -> None:
    alice, _ = alice_and_bob

    assert set(selectors.user_event_counts(user_id=alice.pk, since=NOON - timedelta(days=1))) == {"movies"}


def test_an_items_stats_count_every_user(alice_and_bob: tuple[Any, Any]) -> None:
    stats = selectors.item_event_stats(content_type="movies", item_id="tt1")

    assert stats.counts == selectors.EventCounts(impressions=2, clicks=1, skips=1)
    assert stats.distinct_users == 2


def test_an_item_without_events_has_zero_stats() -> None:
    stats = selectors.item_event_stats(content_type="movies", item_id="tt404")

    assert stats == selectors.ItemStats(counts=selectors.EventCounts(), distinct_users=0)


def test_daily_rates_sum_counts_before_dividing(django_user_model: Any) -> None:
    user = django_user_model.objects.create_user(username="u", password=PASSWORD)
    # control: 1 click / 1 view; popular: 0 clicks / 9 views. Mean of CTRs = 50%, true CTR = 10%.
    events = [stored_event(user, "view", NOON), stored_event(user, "click", NOON, position=0)]
    events += [stored_event(user, "view", NOON, variant="popular") for _ in range(9)]
    RecommendationEvent.objects.bulk_create(events)
    daily_metrics_aggregate(day=NOON.date())

    by_type = selectors.daily_rates(since=date(2026, 3, 1), until=date(2026, 3, 31), by="content_type")
    by_variant = selectors.daily_rates(since=date(2026, 3, 1), until=date(2026, 3, 31), by="variant")

    assert [d.date for d in by_type["movies"]] == [NOON.date()]
    assert by_type["movies"][0].ctr == pytest.approx(0.1)
    assert by_variant["control"][0].ctr == 1.0
    assert by_variant["popular"][0].ctr == 0.0
    assert selectors.click_position_counts(since=date(2026, 3, 1), until=date(2026, 3, 31)) == {0: 1}
    totals = selectors.metric_totals(since=date(2026, 3, 1), until=date(2026, 3, 31))
    assert (totals.counts.impressions, totals.counts.clicks, totals.days) == (10, 1, 1)
    assert DailyMetric.objects.count() == 2
