"""Rendered pages: the page cache in front of ``recommending.get_recommendations`` and the browsing lists.

Both entry points of ``GET /v1/recommendations/<type>/``, the Django view and the ASGI fast path
(``recommendations.api.fast``), go through here. A page is cached as the body its output serializer
rendered, so a hit costs no serialization and both entry points answer the same bytes. The fast path only
ever asks for unfiltered pages; a filtered page's key also holds its filters (``ListFilters.cache_tag``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rest_framework.renderers import JSONRenderer

from musicbud import cache
from musicbud.errors import MusicBudError
from recommendations import buds, lists, recommending
from recommendations.api.serializers import BrowseListSerializer, BudsSerializer, RecommendationPageSerializer
from recommendations.caching import BudSlot, ListSlot, PageSlot
from recommendations.domain import ContentType
from recommendations.filtering import ListFilters
from recommendations.models import PendingInteraction

logger = logging.getLogger(__name__)

CacheState = Literal["hit", "miss"]
_renderer = JSONRenderer()


@dataclass(frozen=True)
class RenderedPage:
    body: bytes  # the JSON response body
    cache: CacheState  # sent as the X-Cache header, never inside the body


def render(data: Any) -> bytes:
    """JSON exactly as the API's renderer writes it (DRF's JSONRenderer)."""
    return bytes(_renderer.render(data))


def page_slot(
    *, user_id: int, content_type: ContentType, limit: int, offset: int, filters: ListFilters | None = None
) -> tuple[recommending.Serving, PageSlot]:
    """What serves this page now, and where it is cached."""
    serving = recommending.serving_for(user_id, content_type)
    slot = PageSlot(
        user_id=user_id, content_type=content_type.value, limit=limit, offset=offset,
        model_version=serving.model_version, variant=serving.variant,
        filters=filters.cache_tag() if filters is not None else "",
    )  # fmt: skip
    return serving, slot


async def fill_page(
    serving: recommending.Serving,
    slot: PageSlot,
    values_read: Sequence[bytes | None],
    filters: ListFilters | None = None,
) -> RenderedPage:
    """Compute, render and cache a page that was not in the cache (``values_read``: what the lookup read)."""
    page = await recommending.get_recommendations(
        serving, user_id=slot.user_id, limit=slot.limit, offset=slot.offset, filters=filters
    )
    body = render(RecommendationPageSerializer(page).data)
    if cache.shared() or not await _changes_pending(slot.user_id):
        await slot.store(body, values_read)
    return RenderedPage(body, "miss")


async def _changes_pending(user_id: int) -> bool:
    """Whether the worker has yet to apply some of the user's changes (an indexed query, on a miss only).

    Asked only with a cache of this process (no REDIS_URL: the embedded demo), which the worker's invalidation
    after its drain cannot reach: a page computed before the drain is then not stored, or it would be served,
    without the user's newest like, until its TTL.
    """
    return await PendingInteraction.objects.filter(user_id=user_id).aexists()


async def recommendation_page(
    *, user_id: int, content_type: ContentType, limit: int, offset: int, filters: ListFilters | None = None
) -> RenderedPage:
    """One page of a user's recommendations of one type: from the cache, or computed and cached."""
    serving, slot = page_slot(user_id=user_id, content_type=content_type, limit=limit, offset=offset, filters=filters)
    body, values = await slot.lookup()
    if body is not None:
        return RenderedPage(body, "hit")
    return await fill_page(serving, slot, values, filters)


async def list_page(
    *, content_type: ContentType, name: lists.ListName, limit: int, offset: int, filters: ListFilters
) -> RenderedPage:
    """One page of a browsing list (popular, trending, latest): from the cache, or computed and cached."""
    artifact = recommending.current_model(content_type)
    slot = ListSlot(
        name=name, content_type=content_type.value, limit=limit, offset=offset, filters=filters.cache_tag(),
        source_version=artifact.version if artifact is not None else recommending.POPULARITY_SOURCE,
        from_model=lists.list_source(name, artifact) == recommending.MODEL_SOURCE,
    )  # fmt: skip
    body, values = await slot.lookup()
    if body is not None:
        return RenderedPage(body, "hit")
    found = await lists.get_item_list(
        content_type=content_type, artifact=artifact, name=name, limit=limit, offset=offset, filters=filters
    )
    body = render(BrowseListSerializer(found).data)
    await slot.store(body, values)
    return RenderedPage(body, "miss")


async def buds_page(*, user_id: int, content_type: buds.BudType, limit: int, offset: int) -> RenderedPage:
    """One page of a user's buds: from the cache, or computed and cached."""
    models = buds.served_models(content_type)
    slot = BudSlot(
        user_id=user_id, content_type=content_type, limit=limit, offset=offset,
        model_versions=tuple(f"{ct.value}:{artifact.version}" for ct, artifact in models.items()),
    )  # fmt: skip
    body, values = await slot.lookup()
    if body is not None:
        return RenderedPage(body, "hit")
    found = await buds.get_buds(user_id=user_id, content_type=content_type, limit=limit, offset=offset, models=models)
    body = render(BudsSerializer(found).data)
    await slot.store(body, values)
    return RenderedPage(body, "miss")


async def all_recommendation_pages(*, user_id: int, limit: int) -> dict[str, Any]:
    """The first page of every content type at once (concurrently), as the all-types response body.

    A type that cannot be served because a dependency is down (e.g. the graph, with no model and no
    cached popularity for that type) does not take the others down: its page is null and its error is
    under ``errors``. Only when no type can be served does the call fail, with the first type's error.
    """
    results = await asyncio.gather(
        *(recommendation_page(user_id=user_id, content_type=ct, limit=limit, offset=0) for ct in ContentType),
        return_exceptions=True,
    )
    body: dict[str, Any] = {}
    errors: dict[str, dict[str, str]] = {}
    for ct, result in zip(ContentType, results, strict=True):
        if isinstance(result, MusicBudError) and result.status_code >= 500:
            body[ct.value] = None
            errors[ct.value] = {"code": result.code, "message": result.message}
            logger.warning("recommendations of %s unavailable: %s", ct.value, result.code)
        elif isinstance(result, BaseException):
            raise result
        else:
            body[ct.value] = json.loads(result.body)
    if len(errors) == len(ContentType):
        first = results[0]
        assert isinstance(first, BaseException)
        raise first
    return {**body, "errors": errors}
