"""POST /v1/recommendations/events/: clients report what they did with the recommendations shown."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.models import CONTENT_TYPE_CHOICES, EventKind
from analytics.services import MAX_BATCH, MAX_ID_LENGTH, MAX_POSITION, recommendation_events_record
from analytics.types import EventInput
from musicbud.api import ApiView, error_responses
from musicbud.auth import caller_id
from musicbud.fields import StrictCharField, StrictFloatField, StrictIntegerField


class EventInputSerializer(serializers.Serializer[EventInput]):
    # Strict JSON types (musicbud.fields): the schema's oneOf per type and kind (recommendations/api/schema.py)
    # says exactly what is accepted.
    client_event_id = StrictCharField(max_length=MAX_ID_LENGTH)
    content_type = serializers.ChoiceField(choices=CONTENT_TYPE_CHOICES)
    item_id = StrictCharField(max_length=MAX_ID_LENGTH)
    event = serializers.ChoiceField(choices=EventKind.choices)
    position = StrictIntegerField(min_value=0, max_value=MAX_POSITION, required=False, allow_null=True)
    model_version = StrictCharField(max_length=MAX_ID_LENGTH, required=False, allow_blank=True, default="")
    created_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None,
        help_text="when it happened (client clock, with a time zone): up to EVENTS_MAX_AGE_DAYS old; default now",
    )  # fmt: skip
    value = StrictFloatField(required=False, allow_null=True, default=None, help_text="rated: the rating")
    scale = StrictFloatField(
        required=False, allow_null=True, default=None, help_text="rated: the top of the rating's scale (5, 10, 100)"
    )
    rank = StrictIntegerField(required=False, allow_null=True, default=None, help_text="top_list_add: 1 = top")


class EventBatchSerializer(serializers.Serializer[list[EventInput]]):
    events = serializers.ListField(child=EventInputSerializer(), min_length=1, max_length=MAX_BATCH)


def parse_events(data: Any) -> list[EventInput]:
    """Either one event object or ``{"events": [...]}``; raises ValidationError naming the fields."""
    if isinstance(data, dict) and "events" in data:
        batch = EventBatchSerializer(data=data)
        batch.is_valid(raise_exception=True)
        return [EventInput(**event) for event in batch.validated_data["events"]]
    single = EventInputSerializer(data=data)
    single.is_valid(raise_exception=True)
    return [EventInput(**single.validated_data)]


class RecommendationEventsApi(ApiView):
    """Idempotent by client_event_id per user: 201 when something new was stored, 200 when all were known.

    Answers 2xx only after the events are committed; a database outage is 503 and the client retries. An
    accepted event's interaction change reaches the store even if the store is down now (the outbox).
    """

    class OutputSerializer(serializers.Serializer[Any]):
        stored = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        pending = serializers.IntegerField(
            help_text="the caller's interaction changes the store has not taken yet (applied later, in order)"
        )

    @extend_schema(
        request=PolymorphicProxySerializer(
            "EventOrBatch", serializers=[EventInputSerializer, EventBatchSerializer], resource_type_field_name=None
        ),
        responses={201: OutputSerializer, 200: OutputSerializer, **error_responses(400, 503)},
    )
    async def post(self, request: Request) -> Response:
        events = parse_events(request.data)
        result = await recommendation_events_record(user_id=caller_id(request), events=events)
        body = self.OutputSerializer(
            {"stored": len(result.stored), "duplicates": len(result.duplicates), "pending": result.pending}
        ).data
        return Response(body, status=201 if result.stored else 200)
