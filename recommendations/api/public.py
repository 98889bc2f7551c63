"""The guests' lists, ``GET /v1/recommendations/public/``: what the MusicBud app shows before anyone logs in.

The body is the envelope the app reads (``{"success", "message", "data": {"movies": [...], ...},
"is_personalized": false}``), rendered once and cached for everyone (``caching.public_key``: a new model
changes the key); the lists come from ``lists.get_public_lists`` and hold no user data at all. A type
that cannot be served because a dependency is down gets empty lists and an entry in ``errors``; only when
no requested type can be served does the call fail (503).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from musicbud.errors import MusicBudError
from recommendations import caching, lists, recommending
from recommendations.api.pages import CacheState, render
from recommendations.api.serializers import PublicRecommendationsSerializer
from recommendations.domain import ContentType

logger = logging.getLogger(__name__)

MESSAGE = "Popular and trending items, the same for every guest."


async def public_body(*, types: list[ContentType], limit: int) -> tuple[bytes, CacheState]:
    """The rendered body for these types (cached), and whether it came from the cache."""
    versions = [recommending.current_model(ct) for ct in types]
    key = caching.public_key(
        types=[ct.value for ct in types], limit=limit,
        model_versions=[a.version if a is not None else recommending.POPULARITY_SOURCE for a in versions],
    )  # fmt: skip
    cached = await caching.cached_public(key)
    if cached is not None:
        return cached, "hit"
    results = await asyncio.gather(*(lists.get_public_lists(ct, limit=limit) for ct in types), return_exceptions=True)
    data: dict[str, Any] = {"trending": {}}
    errors: dict[str, dict[str, str]] = {}
    for ct, result in zip(types, results, strict=True):
        if isinstance(result, MusicBudError) and result.status_code >= 500:
            logger.warning("public %s lists unavailable: %s", ct.value, result.code)
            errors[ct.value] = {"code": result.code, "message": result.message}
            data[ct.value], data["trending"][ct.value] = [], []
        elif isinstance(result, BaseException):
            raise result
        else:
            data[ct.value], data["trending"][ct.value] = result.popular, result.trending
    if len(errors) == len(types):
        first = results[0]
        assert isinstance(first, BaseException)
        raise first
    body = {"success": True, "message": MESSAGE, "data": data, "is_personalized": False, "errors": errors}
    rendered = render(PublicRecommendationsSerializer(body).data)
    await caching.store_public(key, rendered)
    return rendered, "miss"
