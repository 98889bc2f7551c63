"""The recommendations API. Views validate input, call one domain function, serialize the output."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from musicbud import throttling
from musicbud.api import ApiView, error_responses
from musicbud.auth import caller_id
from musicbud.errors import NotFound
from recommendations import buds, recommending, training
from recommendations.api import pages, public
from recommendations.api import serializers as s
from recommendations.domain import ContentType
from recommendations.errors import UnknownContentType
from recommendations.filtering import ListFilters
from recommendations.lists import ListName
from recommendations.models import TrainingLog


def _content_type(value: str) -> ContentType:
    try:
        return ContentType(value)
    except ValueError:
        raise UnknownContentType(content_type=value) from None


def _query(serializer_class: type[Serializer[Any]], request: Request) -> dict[str, Any]:
    # DRF reads an empty query value as "not sent" (``?type=`` would mean the default): an empty value is
    # refused instead, so a query means what the schema says it means.
    blank = sorted({name for name, value in request.query_params.lists() if "" in value})
    if blank:
        raise ValidationError({name: ["This field may not be blank."] for name in blank})
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _filtered_query(request: Request, content_type: str) -> tuple[ContentType, dict[str, Any], ListFilters]:
    """The type of the path, and the page and filters of the query of any list."""
    ct = _content_type(content_type)
    query = _query(s.FilteredPageQuerySerializer, request)
    return ct, query, s.list_filters(ct, query)


def page_response(page: pages.RenderedPage) -> HttpResponse:
    """A rendered page as the answer (the ASGI fast path sends the same bytes and headers)."""
    return HttpResponse(page.body, content_type="application/json", headers={"X-Cache": page.cache})


class AllRecommendationsApi(ApiView):
    @extend_schema(
        operation_id="recommendations_all",
        parameters=[s.LimitQuerySerializer],
        responses={200: s.AllRecommendationsSerializer, **error_responses(400, 503)},
    )
    async def get(self, request: Request) -> Response:
        """The caller's first page of recommendations of every content type (null for a type that is down)."""
        query = _query(s.LimitQuerySerializer, request)
        return Response(await pages.all_recommendation_pages(user_id=caller_id(request), limit=query["limit"]))


CONTENT_TYPE_PARAMETER = OpenApiParameter("content_type", enum=[ct.value for ct in ContentType], location="path")


class RecommendationsApi(ApiView):
    @extend_schema(
        parameters=[s.FilteredPageQuerySerializer, CONTENT_TYPE_PARAMETER],
        responses={200: s.RecommendationPageSerializer, **error_responses(400, 404, 503)},
    )
    async def get(self, request: Request, content_type: str) -> HttpResponse:
        """One page of the caller's recommendations of one type (stable pages for one model version)."""
        ct, query, filters = _filtered_query(request, content_type)
        page = await pages.recommendation_page(
            user_id=caller_id(request), content_type=ct, limit=query["limit"], offset=query["offset"], filters=filters
        )
        return page_response(page)


class BrowseListApi(ApiView):
    """Popular, trending or latest items of one type (``list_name``, set per route): the same for everyone."""

    list_name: ListName = "popular"

    @extend_schema(
        parameters=[s.FilteredPageQuerySerializer, CONTENT_TYPE_PARAMETER],
        responses={200: s.BrowseListSerializer, **error_responses(400, 404, 503)},
    )
    async def get(self, request: Request, content_type: str) -> HttpResponse:
        """One page of a browsing list (popular, trending or latest), filtered before it is paged."""
        ct, query, filters = _filtered_query(request, content_type)
        page = await pages.list_page(
            content_type=ct, name=self.list_name, limit=query["limit"], offset=query["offset"], filters=filters
        )
        return page_response(page)


class PublicRecommendationsApi(ApiView):
    """For guests (the MusicBud app's guest mode): no token read, no personal data, throttled per address."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def throttle_rate(self) -> throttling.Rate:
        return throttling.address_rate()

    @extend_schema(
        auth=[],
        parameters=[s.PublicQuerySerializer],
        responses={200: s.PublicRecommendationsSerializer, **error_responses(400, 503)},
    )
    async def get(self, request: Request) -> HttpResponse:
        """Popular and trending items of every type (or one), the same for every caller."""
        query = _query(s.PublicQuerySerializer, request)
        types = list(ContentType) if query["type"] == "all" else [ContentType(query["type"])]
        body, state = await public.public_body(types=types, limit=query["limit"])
        return HttpResponse(body, content_type="application/json", headers={"X-Cache": state})


class SimilarItemsApi(ApiView):
    @extend_schema(
        parameters=[s.FilteredPageQuerySerializer],
        responses={200: s.SimilarItemsSerializer, **error_responses(400, 404, 503)},
    )
    async def get(self, request: Request, content_type: str, item_id: str) -> Response:
        """Items most similar to one item (cosine of the model's item embeddings), filtered before paging."""
        ct, query, filters = _filtered_query(request, content_type)
        similar = await recommending.get_similar_items(
            content_type=ct, item_id=item_id, limit=query["limit"], offset=query["offset"], filters=filters
        )
        return Response(s.SimilarItemsSerializer(similar).data)


class BudsApi(ApiView):
    @extend_schema(parameters=[s.BudQuerySerializer], responses={200: s.BudsSerializer, **error_responses(400, 503)})
    async def get(self, request: Request) -> HttpResponse:
        """The caller's buds: the users with the most similar taste, with the items they have in common."""
        query = _query(s.BudQuerySerializer, request)
        page = await pages.buds_page(
            user_id=caller_id(request), content_type=query["type"], limit=query["limit"], offset=query["offset"]
        )
        return page_response(page)


class BudVisibilityApi(ApiView):
    @extend_schema(responses={200: s.BudVisibilitySerializer, **error_responses()})
    async def get(self, request: Request) -> Response:
        """Whether the caller can be matched as a bud (and be shown buds)."""
        visible = await buds.bud_visibility(user_id=caller_id(request))
        return Response(s.BudVisibilitySerializer({"visible": visible}).data)

    @extend_schema(
        request=s.BudVisibilitySerializer, responses={200: s.BudVisibilitySerializer, **error_responses(400)}
    )
    async def post(self, request: Request) -> Response:
        """Opt out of buds (``{"visible": false}``: in nobody's list, and shown none) or back in, at once."""
        serializer = s.BudVisibilitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        visible = await buds.set_bud_visibility(
            user_id=caller_id(request), visible=serializer.validated_data["visible"]
        )
        return Response(s.BudVisibilitySerializer({"visible": visible}).data)


class ModelStatusApi(ApiView):
    @extend_schema(responses={200: s.ModelStatusSerializer, **error_responses(503)})
    async def get(self, request: Request) -> Response:
        """Model version, training time, counts and holdout metrics per content type."""
        return Response(s.ModelStatusSerializer(recommending.model_status()).data)


def _run_json(log: TrainingLog) -> dict[str, Any]:
    return dict(s.TrainingRunSerializer(log).data)


class TrainModelsApi(ApiView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=s.TrainRequestSerializer,
        responses={202: s.TrainResponseSerializer, **error_responses(400, 403, 409, 503)},
    )
    async def post(self, request: Request) -> Response:
        """Queue a training of some or all types for the worker; returns the run ids (staff only)."""
        serializer = s.TrainRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run_ids = await sync_to_async(training.start_training_run)(
            content_types=serializer.validated_data["content_types"],
            # The user's id, not their name: training logs hold no personal data.
            triggered_by=f"api:{request.user.pk}",
        )
        logs = [log async for log in TrainingLog.objects.filter(id__in=run_ids).order_by("id")]
        return Response({"runs": [_run_json(log) for log in logs]}, status=202)


class TrainingRunApi(ApiView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: s.TrainingRunSerializer, **error_responses(403, 404, 503)})
    async def get(self, request: Request, run_id: int) -> Response:
        """Status and metrics of one training run (staff only)."""
        log = await TrainingLog.objects.filter(id=run_id).afirst()
        if log is None:
            raise NotFound("No training run with this id.", run_id=run_id)
        return Response(_run_json(log))
