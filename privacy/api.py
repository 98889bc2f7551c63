"""DELETE /v1/recommendations/me/: a user has this service forget them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from musicbud.api import ApiView, error_responses
from musicbud.auth import caller_id
from privacy.services import user_forget


class ForgottenSerializer(serializers.Serializer[Any]):
    interactions = serializers.IntegerField(help_text="interactions erased from the store")
    events = serializers.IntegerField(help_text="events erased")
    pending_changes = serializers.IntegerField(help_text="queued interaction changes dropped")
    cache = serializers.ChoiceField(
        choices=["invalidated", "pending"],
        help_text=(
            "invalidated: no cached answer shows you any more; pending: the cache did not answer, the invalidation "
            "is recorded and retried, and cached pages or other users' bud lists may show you until then "
            "(at most the cache TTL, 1 hour by default)"
        ),
    )
    pending_invalidations = serializers.IntegerField(help_text="cache invalidations recorded and not yet done")


class ForgetMeApi(ApiView):
    @extend_schema(responses={200: ForgottenSerializer, **error_responses(503)})
    async def delete(self, request: Request) -> Response:
        """Erase the caller's interactions, events, queued changes, cached pages and bud setting (idempotent)."""
        forgotten = await user_forget(user_id=caller_id(request), requested_by="the user")
        return Response(ForgottenSerializer(forgotten).data)
