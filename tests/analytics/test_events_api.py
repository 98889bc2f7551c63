"""POST /v1/recommendations/events/ through the real route, with a real JWT from /v1/auth/token/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import override_settings
from django.utils import timezone

from analytics.models import RecommendationEvent
from recommendations.experiments import assign_variant
from recommendations.models import Interaction, Item
from tests.analytics.conftest import PostEvents
from tests.analytics.factories import event

pytestmark = pytest.mark.django_db

EXPERIMENT = {"name": "api-test", "variants": {"control": 1, "popular": 1}}


@pytest.fixture(autouse=True)
def catalog() -> None:
    # Likes and dislikes become interactions, and interactions reference catalog items.
    Item.objects.create(content_type="movies", external_id="tt0111161", title="The Shawshank Redemption")


def test_the_same_client_ids_posted_twice_are_stored_once(post_events: PostEvents) -> None:
    batch = {"events": [event("e1"), event("e2", "click", position=3), event("e3", "like")]}

    first = post_events(batch)
    second = post_events(batch)

    assert first.status_code == 201, first.json()
    assert first.json() == {"stored": 3, "duplicates": 0, "pending": 0}
    assert second.status_code == 200
    assert second.json() == {"stored": 0, "duplicates": 3, "pending": 0}
    assert RecommendationEvent.objects.count() == 3


def test_a_like_becomes_an_interaction_of_the_user(post_events: PostEvents, user: AbstractUser) -> None:
    post_events(event("e1", "like"))

    assert Interaction.objects.filter(user_id=user.pk, item__external_id="tt0111161").count() == 1


def test_a_batch_with_some_known_ids_stores_only_the_new_ones(post_events: PostEvents) -> None:
    post_events({"events": [event("e1"), event("e2")]})

    response = post_events({"events": [event("e2"), event("e3"), event("e3")]})

    assert response.status_code == 201
    assert response.json() == {"stored": 1, "duplicates": 2, "pending": 0}
    assert sorted(RecommendationEvent.objects.values_list("client_event_id", flat=True)) == ["e1", "e2", "e3"]


def test_a_single_event_object_is_accepted(post_events: PostEvents, user: AbstractUser) -> None:
    response = post_events(event("solo", "click", position=0, model_version="lightfm-7"))

    assert response.status_code == 201
    stored = RecommendationEvent.objects.get()
    assert (stored.user_id, stored.event, stored.position, stored.model_version) == (user.pk, "click", 0, "lightfm-7")


def test_client_ids_are_scoped_to_the_user(post_events: PostEvents, client: Any, django_user_model: Any) -> None:
    post_events(event("shared-id"))
    django_user_model.objects.create_user(username="bob", password="another-long-password-1")
    bob_token = client.post(
        "/v1/auth/token/", {"username": "bob", "password": "another-long-password-1"}, content_type="application/json"
    ).json()["access"]

    response = post_events(event("shared-id"), bearer=bob_token)

    assert response.status_code == 201
    assert RecommendationEvent.objects.filter(client_event_id="shared-id").count() == 2


def test_the_user_comes_from_the_token_never_from_the_body(
    post_events: PostEvents, user: AbstractUser, django_user_model: Any
) -> None:
    other = django_user_model.objects.create_user(username="mallory", password="x-long-password-99")

    post_events(event("e1", user=other.pk, user_id=other.pk, variant="popular"))

    stored = RecommendationEvent.objects.get()
    assert stored.user_id == user.pk


def test_the_variant_is_assigned_by_the_server(post_events: PostEvents, user: AbstractUser) -> None:
    with override_settings(RECOMMENDATIONS_EXPERIMENT=EXPERIMENT):
        post_events(event("e1"))
        expected = assign_variant(user.pk)

    assert RecommendationEvent.objects.get().variant == expected


def test_a_client_clock_a_little_ahead_is_taken_as_now(post_events: PostEvents) -> None:
    before = timezone.now()

    response = post_events(event("e1", created_at=(before + timedelta(seconds=90)).isoformat()))

    assert response.status_code == 201, response.json()
    assert before <= RecommendationEvent.objects.get().created_at <= timezone.now()


@pytest.mark.parametrize("ahead", [timedelta(minutes=6), timedelta(days=2)])
def test_an_event_further_in_the_future_than_the_clock_skew_is_refused(
    post_events: PostEvents, ahead: timedelta
) -> None:
    response = post_events(event("e1", "like", created_at=(timezone.now() + ahead).isoformat()))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "event_in_future"
    assert error["details"] == {"index": 0, "field": "created_at"}
    assert not RecommendationEvent.objects.exists()
    assert not Interaction.objects.exists()


def test_an_event_buffered_offline_for_six_days_is_accepted(post_events: PostEvents, user: AbstractUser) -> None:
    at = (timezone.now() - timedelta(days=6)).replace(microsecond=0)

    response = post_events(event("e1", "like", created_at=at.isoformat()))

    assert response.status_code == 201, response.json()
    assert RecommendationEvent.objects.get().created_at == at
    assert Interaction.objects.get(user_id=user.pk).timestamp == int(at.timestamp())


def test_an_event_older_than_the_age_limit_is_refused(post_events: PostEvents, settings: Any) -> None:
    settings.EVENTS_MAX_AGE_DAYS = 2
    response = post_events(event("e1", created_at=(timezone.now() - timedelta(days=3)).isoformat()))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_event"
    assert response.json()["error"]["details"]["field"] == "created_at"


def test_a_recent_client_time_is_kept(post_events: PostEvents) -> None:
    at = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)

    post_events(event("e1", created_at=at.isoformat()))

    assert RecommendationEvent.objects.get().created_at == at


def test_it_requires_a_token(post_events: PostEvents) -> None:
    response = post_events(event("e1"), bearer=None)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not RecommendationEvent.objects.exists()


def test_it_rejects_an_invalid_token(post_events: PostEvents) -> None:
    response = post_events(event("e1"), bearer="not-a-jwt")

    assert response.status_code == 401
    assert not RecommendationEvent.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(event("e1", "purchase"), "event", id="unknown-event-kind"),
        pytest.param(event("e1", content_type="books"), "content_type", id="unknown-content-type"),
        pytest.param(event("e1", position=-1), "position", id="negative-position"),
        pytest.param(event("e1", position="third"), "position", id="non-integer-position"),
        pytest.param({"content_type": "movies", "item_id": "tt1", "event": "view"}, "client_event_id", id="no-id"),
        pytest.param(event("x" * 65), "client_event_id", id="id-too-long"),
        pytest.param(event("e1", item_id=""), "item_id", id="empty-item-id"),
        pytest.param(event("e1", created_at="yesterday-ish"), "created_at", id="unparsable-time"),
        # Exactly the JSON types the schema names: DRF alone would coerce these.
        pytest.param(event("e1", position="3"), "position", id="position-as-a-string"),
        pytest.param(event("e1", position=3.0), "position", id="position-as-a-float"),
        pytest.param(event("e1", position=True), "position", id="position-as-a-boolean"),
        pytest.param(event("e1") | {"client_event_id": 123}, "client_event_id", id="id-as-a-number"),
        pytest.param(event("e1", "rated", value="4"), "value", id="rating-as-a-string"),
    ],
)
def test_it_rejects_an_invalid_event_naming_the_field(post_events: PostEvents, payload: Any, field: str) -> None:
    response = post_events(payload)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert field in error["details"]
    assert not RecommendationEvent.objects.exists()


def test_it_names_the_index_and_field_of_a_bad_event_in_a_batch(post_events: PostEvents) -> None:
    response = post_events({"events": [event("ok"), event("bad", "purchase")]})

    assert response.status_code == 400
    assert "event" in response.json()["error"]["details"]["events"]["1"]
    # All or nothing: the valid event of a rejected batch is not stored either.
    assert not RecommendationEvent.objects.exists()


def test_it_rejects_more_than_500_events(post_events: PostEvents) -> None:
    response = post_events({"events": [event(f"e{i}") for i in range(501)]})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert "events" in response.json()["error"]["details"]


def test_it_accepts_exactly_500_events(post_events: PostEvents) -> None:
    response = post_events({"events": [event(f"e{i}") for i in range(500)]})

    assert response.status_code == 201
    assert response.json() == {"stored": 500, "duplicates": 0, "pending": 0}


def test_it_rejects_an_empty_batch(post_events: PostEvents) -> None:
    response = post_events({"events": []})

    assert response.status_code == 400
    assert "events" in response.json()["error"]["details"]


def test_it_rejects_an_event_older_than_a_week_with_its_own_code(post_events: PostEvents) -> None:
    old = (timezone.now() - timedelta(days=8)).isoformat()

    response = post_events({"events": [event("ok"), event("old", created_at=old)]})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_event"
    assert error["details"] == {"index": 1, "field": "created_at"}
    assert not RecommendationEvent.objects.exists()


def test_it_rejects_a_body_that_is_not_json(client: Any, token: str) -> None:
    response = client.post(
        "/v1/recommendations/events/",
        "not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
