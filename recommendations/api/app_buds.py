"""The MusicBud app's bud calls, answered in the app's own shapes (musicbud/flutter at ``31c49e7``).

- ``POST /v1/bud/{top,liked,played}/<kind>/`` (no body: ``BudMatchingRemoteDataSourceImpl`` posts none) answer
  ``BudSearchResult`` (``lib/models/bud_search_result.dart``): ``message``, ``code``, ``successful`` and
  ``data.buds[]`` of ``{uid, display_name, is_active}``. The buds are our buds (``recommendations.buds``,
  through the same cached page as ``GET /v1/recommendations/buds/``); ``uid`` is the public id
  (``recommendations.public_ids``: the graph's ``ParentUser.uid`` on MusicBud's graph).
- ``POST /v1/bud/common/{top,liked,played}/<kind>/`` with ``{"bud_id": uid}`` (MusicBud's backend and its Postman
  collection) or ``{"username": ...}`` (what ``CommonItemsRemoteDataSourceImpl`` sends for anime and manga) answer
  the JSON list that data source decodes (``lib/models/common_anime.dart``, ``common_manga.dart``); liked tracks
  are read from a ``results`` key instead (the same file), so that one answers ``{"results": [...]}``.

Anime and manga are served; the music kinds (artists, tracks, genres, albums, "aio": all in one) answer an empty
list until music is a content type here, so the app shows "no buds" rather than an error. The app reads no count
of common anime or manga, so the counts it has fields for (music) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from musicbud.api import ApiView, error_responses
from musicbud.auth import caller_id
from recommendations import buds, public_ids
from recommendations.api import pages
from recommendations.api.serializers import DEFAULT_LIMIT
from recommendations.domain import ContentType
from recommendations.errors import UnknownContentType

F = TypeVar("F", bound=Callable[..., Any])

# The kinds of each group the app calls (lib/config/api_config.dart), and the content type each one is here.
Kinds = Mapping[str, ContentType | None]
TOP: Kinds = {"artists": None, "tracks": None, "genres": None, "anime": ContentType.ANIME, "manga": ContentType.MANGA}
LIKED: Kinds = {"artists": None, "tracks": None, "genres": None, "albums": None, "aio": None}
PLAYED: Kinds = {"tracks": None}
COMMON_TOP = TOP
COMMON_LIKED: Kinds = {"artists": None, "genres": None, "albums": None}  # liked tracks: CommonLikedTracksApi
COMMON_PLAYED = PLAYED
# What the app's list shows as the reason of an empty list (our buds' ``reason``).
MESSAGES = {
    None: "Buds found.",
    "no_match": "No buds found yet.",
    "opted_out": "You are hidden from buds, so you are shown none.",
    "no_model": "Buds of this kind are not computed yet.",
    "no_history": "Add a few favourites of this kind to find buds.",
    "music": "Music buds are not served here yet.",
}


class AppBudSerializer(serializers.Serializer[Any]):
    uid = serializers.CharField(help_text="the bud's public id: MusicBud's ParentUser.uid, else our own")
    display_name = serializers.CharField()
    is_active = serializers.BooleanField()


class AppBudsDataSerializer(serializers.Serializer[Any]):
    buds = AppBudSerializer(many=True)


class BudSearchResultSerializer(serializers.Serializer[Any]):
    """The app's BudSearchResult (lib/models/bud_search_result.dart)."""

    message = serializers.CharField()
    code = serializers.IntegerField(help_text="the HTTP status, as MusicBud's backend writes it")
    successful = serializers.BooleanField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # A field named "data" cannot be declared: it would hide the serializer's own ``data``.
        fields = super().get_fields()
        fields["data"] = AppBudsDataSerializer()
        return fields


class BudReferenceSerializer(serializers.Serializer[Any]):
    """Which bud: ``bud_id`` (their public ``uid``) or ``username``; at least one."""

    bud_id = serializers.CharField(required=False, max_length=public_ids.UID_MAX_LENGTH, trim_whitespace=False)
    username = serializers.CharField(required=False, max_length=150, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("bud_id") and not attrs.get("username"):
            raise serializers.ValidationError("Give the bud's bud_id or username.")
        return attrs


class AppCommonItemSerializer(serializers.Serializer[Any]):
    """The fields of the app's CommonAnime / CommonManga that we have (lib/models/common_anime.dart)."""

    id = serializers.CharField(help_text="our item id (the MyAnimeList id)")
    mal_id = serializers.CharField()
    title = serializers.CharField(help_text="the catalog's title; the id when the catalog has none")
    genres = serializers.ListField(child=serializers.CharField())
    image_url = serializers.CharField(allow_null=True, help_text="a picture of the item, when there is one")


class CommonLikedTracksSerializer(serializers.Serializer[Any]):
    results = AppCommonItemSerializer(many=True)


def _kind(kinds: Kinds, kind: str) -> ContentType | None:
    if kind not in kinds:
        raise UnknownContentType(content_type=kind)
    return kinds[kind]


def _kind_parameter(kinds: Kinds) -> OpenApiParameter:
    return OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=sorted(kinds))


async def bud_search_result(*, user_id: int, content_type: ContentType | None) -> dict[str, Any]:
    """The caller's buds of one type in the app's BudSearchResult shape (empty for the music kinds)."""
    if content_type is None:
        return _result([], "music")
    page = await pages.buds_page(user_id=user_id, content_type=content_type.value, limit=DEFAULT_LIMIT, offset=0)
    found = json.loads(page.body)
    listed = found["buds"]
    uids = await sync_to_async(public_ids.public_uids)([bud["user_id"] for bud in listed])
    shown = [
        {"uid": uids[bud["user_id"]], "display_name": bud["username"], "is_active": True}
        for bud in listed
        if bud["user_id"] in uids
    ]
    return _result(shown, found["reason"])


def _result(shown: list[dict[str, Any]], reason: str | None) -> dict[str, Any]:
    return {"message": MESSAGES[reason], "code": 200, "successful": True, "data": {"buds": shown}}


def _bud_user(query: dict[str, Any]) -> int:
    found = None
    if query.get("bud_id"):
        found = public_ids.user_of_public_uid(query["bud_id"])
    elif query.get("username"):
        found = public_ids.user_of_username(query["username"])
    if found is None:
        raise buds.BudNotFound()
    return found


async def common_items(
    *, user_id: int, query: dict[str, Any], content_type: ContentType | None
) -> list[dict[str, Any]]:
    """The items the caller and a bud have in common, as the app's CommonAnime / CommonManga (empty for music)."""
    bud_id = await sync_to_async(_bud_user)(query)
    if content_type is None:
        if bud_id == user_id:
            raise buds.BudNotFound()
        return []
    found = await buds.common_items(user_id=user_id, bud_id=bud_id, content_type=content_type)
    return [
        {"id": item.item_id, "mal_id": item.item_id, "title": item.title or item.item_id,
         "genres": list(item.genres), "image_url": item.image_url}
        for item in found
    ]  # fmt: skip


def _buds_schema(kinds: Kinds) -> Callable[[F], F]:
    return extend_schema(
        request=None,
        parameters=[_kind_parameter(kinds)],
        responses={200: BudSearchResultSerializer, **error_responses(404, 503)},
    )


class AppBudsApi(ApiView):
    kinds: Kinds = {}

    async def answer(self, request: Request, kind: str) -> Response:
        content_type = _kind(self.kinds, kind)
        return Response(await bud_search_result(user_id=caller_id(request), content_type=content_type))


class BudsByTopApi(AppBudsApi):
    kinds = TOP

    @_buds_schema(TOP)
    async def post(self, request: Request, kind: str) -> Response:
        """The caller's buds by their top items of one kind (the app's BudSearchResult; music: an empty list)."""
        return await self.answer(request, kind)


class BudsByLikedApi(AppBudsApi):
    kinds = LIKED

    @_buds_schema(LIKED)
    async def post(self, request: Request, kind: str) -> Response:
        """The caller's buds by liked music (an empty list until music is served here)."""
        return await self.answer(request, kind)


class BudsByPlayedApi(AppBudsApi):
    kinds = PLAYED

    @_buds_schema(PLAYED)
    async def post(self, request: Request, kind: str) -> Response:
        """The caller's buds by played tracks (an empty list until music is served here)."""
        return await self.answer(request, kind)


def _common_schema(kinds: Kinds) -> Callable[[F], F]:
    return extend_schema(
        request=BudReferenceSerializer,
        parameters=[_kind_parameter(kinds)],
        responses={200: AppCommonItemSerializer(many=True), **error_responses(400, 404, 503)},
    )


class AppCommonItemsApi(ApiView):
    kinds: Kinds = {}

    async def answer(self, request: Request, kind: str) -> Response:
        content_type = _kind(self.kinds, kind)
        serializer = BudReferenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        return Response(await common_items(user_id=caller_id(request), query=query, content_type=content_type))


class CommonTopApi(AppCommonItemsApi):
    kinds = COMMON_TOP

    @_common_schema(COMMON_TOP)
    async def post(self, request: Request, kind: str) -> Response:
        """Items of one kind in both the caller's and a bud's top lists (music: an empty list)."""
        return await self.answer(request, kind)


class CommonLikedApi(AppCommonItemsApi):
    kinds = COMMON_LIKED

    @_common_schema(COMMON_LIKED)
    async def post(self, request: Request, kind: str) -> Response:
        """Liked music the caller and a bud have in common (an empty list until music is served here)."""
        return await self.answer(request, kind)


class CommonPlayedApi(AppCommonItemsApi):
    kinds = COMMON_PLAYED

    @_common_schema(COMMON_PLAYED)
    async def post(self, request: Request, kind: str) -> Response:
        """Played tracks the caller and a bud have in common (an empty list until music is served here)."""
        return await self.answer(request, kind)


class CommonLikedTracksApi(ApiView):
    @extend_schema(
        request=BudReferenceSerializer,
        responses={200: CommonLikedTracksSerializer, **error_responses(400, 404, 503)},
        description="Liked tracks the caller and a bud have in common, under ``results`` as the app reads them "
        "(music: empty until music is served here).",
    )
    async def post(self, request: Request) -> Response:
        serializer = BudReferenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = await common_items(user_id=caller_id(request), query=serializer.validated_data, content_type=None)
        return Response({"results": items})


urlpatterns = [
    path("top/<str:kind>/", BudsByTopApi.as_view(), name="app-buds-top"),
    path("liked/<str:kind>/", BudsByLikedApi.as_view(), name="app-buds-liked"),
    path("played/<str:kind>/", BudsByPlayedApi.as_view(), name="app-buds-played"),
    path("common/liked/tracks/", CommonLikedTracksApi.as_view(), name="app-common-liked-tracks"),
    path("common/top/<str:kind>/", CommonTopApi.as_view(), name="app-common-top"),
    path("common/liked/<str:kind>/", CommonLikedApi.as_view(), name="app-common-liked"),
    path("common/played/<str:kind>/", CommonPlayedApi.as_view(), name="app-common-played"),
]
