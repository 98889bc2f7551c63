"""recommendation_events_record: the one function that stores client events, called directly."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AbstractUser
from django.db import connections

from analytics import services
from analytics.errors import EventsUnavailable, InvalidEvent
from analytics.models import RecommendationEvent
from analytics.types import EventInput
from recommendations.feedback import FeedbackEvent

record = async_to_sync(services.recommendation_events_record)


def _event(client_event_id: str, kind: str = "view", **fields: Any) -> EventInput:
    return EventInput(client_event_id=client_event_id, content_type="anime", item_id="5114", event=kind, **fields)


@pytest.fixture
def feedback_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, list[FeedbackEvent]]]:
    """Records what is handed to the colleague's feedback function (its effects are tested there)."""
    calls: list[tuple[int, list[FeedbackEvent]]] = []

    async def apply_feedback_events(user_id: int, events: list[FeedbackEvent]) -> None:
        calls.append((user_id, events))

    monkeypatch.setattr(services, "apply_feedback_events", apply_feedback_events)
    return calls


@pytest.mark.django_db
def test_it_reports_which_client_ids_were_new_and_which_were_duplicates(user: AbstractUser) -> None:
    record(user_id=user.pk, events=[_event("a")])

    result = record(user_id=user.pk, events=[_event("a"), _event("b"), _event("b")])

    assert result.stored == ("b",)
    assert result.duplicates == ("a", "b")
    assert result.variant == "control"


@pytest.mark.django_db
def test_only_likes_and_dislikes_are_applied_as_feedback(
    user: AbstractUser, feedback_calls: list[tuple[int, list[FeedbackEvent]]]
) -> None:
    record(user_id=user.pk, events=[_event("v"), _event("c", "click"), _event("l", "like"), _event("d", "dislike")])

    assert len(feedback_calls) == 1
    user_id, events = feedback_calls[0]
    assert user_id == user.pk
    assert [(e.event, e.content_type, e.item_id) for e in events] == [
        ("like", "anime", "5114"),
        ("dislike", "anime", "5114"),
    ]


@pytest.mark.django_db
def test_a_retried_like_is_applied_again_so_a_failed_feedback_step_heals(
    user: AbstractUser, feedback_calls: list[tuple[int, list[FeedbackEvent]]]
) -> None:
    record(user_id=user.pk, events=[_event("l", "like")])
    record(user_id=user.pk, events=[_event("l", "like")])

    assert [len(events) for _, events in feedback_calls] == [1, 1]
    assert RecommendationEvent.objects.count() == 1


@pytest.mark.django_db
def test_no_feedback_call_without_likes_or_dislikes(
    user: AbstractUser, feedback_calls: list[tuple[int, list[FeedbackEvent]]]
) -> None:
    record(user_id=user.pk, events=[_event("v"), _event("s", "skip")])

    assert feedback_calls == []


@pytest.mark.django_db
def test_it_validates_events_from_callers_other_than_the_api(user: AbstractUser) -> None:
    with pytest.raises(InvalidEvent) as raised:
        record(user_id=user.pk, events=[_event("ok"), _event("bad", position=-3)])

    assert raised.value.details == {"index": 1, "field": "position"}
    assert not RecommendationEvent.objects.exists()


@pytest.mark.django_db
def test_it_rejects_an_oversized_batch(user: AbstractUser) -> None:
    with pytest.raises(InvalidEvent):
        record(user_id=user.pk, events=[_event(str(i)) for i in range(services.MAX_BATCH + 1)])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings")
def test_an_unreachable_database_is_a_typed_503_error(user: AbstractUser) -> None:
    connection = connections["default"]
    port = connection.settings_dict["PORT"]
    connection.close()
    # A connection pool (psycopg 3) keeps the old address: drop it so the new port is used.
    if hasattr(connection, "close_pool"):
        connection.close_pool()
    # Port 1 on loopback refuses at once: a real outage, not a mock.
    connection.settings_dict["PORT"] = 1
    try:
        with pytest.raises(EventsUnavailable) as raised:
            record(user_id=user.pk, events=[_event("a")])
    finally:
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
        connection.settings_dict["PORT"] = port

    assert raised.value.status_code == 503
    assert raised.value.code == "events_unavailable"
    assert not RecommendationEvent.objects.exists()
