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
from recommendations.data import get_interaction_store
from recommendations.domain import CatalogItem, InteractionKind
from recommendations.models import Interaction, PendingInteraction

record = async_to_sync(services.recommendation_events_record)


def _event(client_event_id: str, kind: str = "view", **fields: Any) -> EventInput:
    return EventInput(client_event_id=client_event_id, content_type="anime", item_id="5114", event=kind, **fields)


@pytest.fixture
def catalog() -> None:
    get_interaction_store().upsert_catalog("anime", [CatalogItem("5114", "Fullmetal Alchemist", ("Action",))])


@pytest.mark.django_db
def test_it_reports_which_client_ids_were_new_and_which_were_duplicates(user: AbstractUser) -> None:
    record(user_id=user.pk, events=[_event("a")])

    result = record(user_id=user.pk, events=[_event("a"), _event("b"), _event("b")])

    assert result.stored == ("b",)
    assert result.duplicates == ("a", "b")
    assert result.variant == "control"
    assert result.pending == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("catalog")
def test_only_feedback_events_change_interactions(user: AbstractUser) -> None:
    record(user_id=user.pk, events=[_event("v"), _event("c", "click"), _event("s", "skip"), _event("l", "like")])

    assert list(Interaction.objects.values_list("user_id", "kind")) == [(user.pk, InteractionKind.LIKED)]
    assert not PendingInteraction.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("catalog")
def test_a_retried_event_is_not_applied_again_after_a_newer_one(user: AbstractUser) -> None:
    # Applying the retried like again would undo the unlike that came after it.
    record(user_id=user.pk, events=[_event("l", "like")])
    record(user_id=user.pk, events=[_event("u", "unlike")])
    result = record(user_id=user.pk, events=[_event("l", "like")])

    assert result.duplicates == ("l",)
    assert not Interaction.objects.exists()
    assert RecommendationEvent.objects.count() == 2


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
