"""Reading recommendations: the operations behind the API's GET endpoints.

Each public function is one domain operation (for one user, one content type) and returns plain
JSON-ready dicts, so the views only validate and serialize. Scoring runs in a worker thread: numpy
releases the GIL, and the event loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache

from analytics.variants import assign_variant
from musicbud.errors import GraphUnavailable, MusicBudError
from recommendations.caching import CACHE_ERRORS, PageCache, log_cache_error
from recommendations.data import get_interaction_store
from recommendations.data.validation import validate_item_id
from recommendations.domain import CatalogItem, ContentType, InteractionArrays
from recommendations.engine import History, ModelArtifact, ModelNotFound, ModelStore, Recommender
from recommendations.engine.errors import EngineError
from recommendations.engine.serving import REASON_BECAUSE_YOU_LIKED, REASON_POPULAR
from recommendations.errors import ItemNotFound

logger = logging.getLogger(__name__)

POPULARITY_SOURCE = "popularity"
# Variant of the A/B experiment that is served popularity only (the baseline arm).
POPULAR_VARIANT = "popular"
_POPULAR_CACHE_TTL_S = 600
# Long enough to cover a graph outage; refreshed whenever the graph answers.
_POPULAR_LAST_GOOD_TTL_S = 7 * 24 * 3600
_POPULAR_POOL = 1000

_model_stores: dict[Path, ModelStore] = {}
_logged_no_model: set[str] = set()


def model_store() -> ModelStore:
    """The process's ModelStore for settings.MODEL_DIR (it hot-reloads new versions itself)."""
    path = Path(settings.MODEL_DIR)
    store = _model_stores.get(path)
    if store is None:
        store = _model_stores.setdefault(path, ModelStore(path))
    return store


def current_model(content_type: ContentType) -> ModelArtifact | None:
    """The served model of a type, or None when none was trained yet (popularity is served instead)."""
    try:
        artifact = model_store().current(content_type.value)
    except ModelNotFound:
        if content_type.value not in _logged_no_model:
            _logged_no_model.add(content_type.value)
            logger.warning("no %s model yet: serving popularity until one is trained", content_type.value)
        return None
    _logged_no_model.discard(content_type.value)
    return artifact


@dataclass(frozen=True)
class _Ranked:
    item_id: str
    score: float
    reason: str
    because_item_id: str | None = None


async def _user_history(content_type: ContentType, user_id: int) -> InteractionArrays | None:
    """The user's current history, or None when the graph is down (the model's own copy is used then)."""
    try:
        return await get_interaction_store().auser_history(content_type, user_id)
    except GraphUnavailable as exc:
        logger.warning("history of user %s unavailable (%s); serving from the model's copy", user_id, exc)
        return None


async def popular_pool(content_type: ContentType) -> list[tuple[str, float]]:
    """Recency-weighted popular items of a type from the data service, cached; last good copy on outage."""
    fresh_key, last_good_key = f"recs:popular:{content_type.value}", f"recs:popular-last-good:{content_type.value}"
    try:
        cached = await cache.aget(fresh_key)
    except CACHE_ERRORS as exc:
        log_cache_error(exc)
        cached = None
    if cached is not None:
        return list(cached)
    try:
        scored = await get_interaction_store().apopular_items(content_type, limit=_POPULAR_POOL)
    except GraphUnavailable:
        try:
            last_good = await cache.aget(last_good_key)
        except CACHE_ERRORS as exc:
            log_cache_error(exc)
            last_good = None
        if last_good is None:
            raise
        logger.warning("graph unavailable: serving the last known popular %s items", content_type.value)
        return list(last_good)
    pool = [(item.item_id, float(item.score)) for item in scored]
    try:
        await cache.aset_many({fresh_key: pool}, timeout=_POPULAR_CACHE_TTL_S)
        await cache.aset(last_good_key, pool, timeout=_POPULAR_LAST_GOOD_TTL_S)
    except CACHE_ERRORS as exc:
        # The pool was computed; not caching it only costs the next request a query.
        log_cache_error(exc)
    return pool


def _history_of(arrays: InteractionArrays | None) -> History | None:
    if arrays is None:
        return None
    return History(item_ids=arrays.item_ids, kinds=arrays.kinds, values=arrays.values, timestamps=arrays.timestamps)


def _score_with_model(
    artifact: ModelArtifact, *, user_id: int, history: History | None, limit: int, offset: int, popular_only: bool
) -> tuple[list[_Ranked], str]:
    recommender = Recommender(artifact)
    if popular_only:
        exclude = [] if history is None else history.item_ids.tolist()
        items = recommender.popular(k=limit, offset=offset, exclude=exclude)
        return [_Ranked(r.item_id, r.score, r.reason) for r in items], POPULARITY_SOURCE
    result = recommender.recommend(user_id, k=limit, offset=offset, history=history)
    ranked = [_Ranked(r.item_id, r.score, r.reason, r.because_item_id) for r in result.items]
    source = POPULARITY_SOURCE if result.source == "popularity" else "model"
    return ranked, source


async def _score_without_model(
    content_type: ContentType, history: InteractionArrays | None, limit: int, offset: int
) -> list[_Ranked]:
    seen = set() if history is None else set(history.item_ids.tolist())
    pool = [(item_id, score) for item_id, score in await popular_pool(content_type) if item_id not in seen]
    return [_Ranked(item_id, score, REASON_POPULAR) for item_id, score in pool[offset : offset + limit]]


async def _titles(content_type: ContentType, item_ids: list[str]) -> dict[str, CatalogItem]:
    if not item_ids:
        return {}
    try:
        return await get_interaction_store().acatalog_items(content_type, item_ids)
    except GraphUnavailable as exc:
        logger.warning("catalog unavailable (%s): serving recommendations without titles", exc)
        return {}


def _item_json(item_id: str, catalog: dict[str, CatalogItem]) -> dict[str, Any]:
    entry = catalog.get(item_id)
    return {"item_id": item_id, "title": entry.title if entry else None, "genres": list(entry.genres) if entry else []}


async def get_recommendations(*, user_id: int, content_type: ContentType, limit: int, offset: int) -> dict[str, Any]:
    """One page of a user's recommendations of one type, from the cache or freshly scored.

    The returned dict is the API's response body plus ``cache`` ("hit" or "miss") for the view's header.
    """
    variant = assign_variant(user_id)
    artifact = current_model(content_type)
    model_version = artifact.version if artifact is not None else POPULARITY_SOURCE
    page_cache = PageCache(
        user_id=user_id,
        content_type=content_type.value,
        limit=limit,
        offset=offset,
        model_version=model_version,
        variant=variant,
    )
    cached = await page_cache.get()
    if cached is not None:
        return {**cached, "cache": "hit"}

    history = await _user_history(content_type, user_id)
    if artifact is None:
        ranked, source = await _score_without_model(content_type, history, limit, offset), POPULARITY_SOURCE
    else:
        ranked, source = await asyncio.to_thread(
            _score_with_model,
            artifact,
            user_id=user_id,
            history=_history_of(history),
            limit=limit,
            offset=offset,
            popular_only=variant == POPULAR_VARIANT,
        )
    catalog = await _titles(
        content_type, sorted({r.item_id for r in ranked} | {r.because_item_id or "" for r in ranked} - {""})
    )
    items = []
    for position, entry in enumerate(ranked, start=offset + 1):
        reason: dict[str, Any] = {"code": entry.reason}
        if entry.reason == REASON_BECAUSE_YOU_LIKED and entry.because_item_id:
            reason["item"] = _item_json(entry.because_item_id, catalog)
        items.append(
            {**_item_json(entry.item_id, catalog), "score": round(entry.score, 6), "rank": position, "reason": reason}
        )
    page = {
        "content_type": content_type.value,
        "source": source,
        "model_version": model_version,
        "variant": variant,
        "limit": limit,
        "offset": offset,
        "items": items,
    }
    await page_cache.set(page)
    return {**page, "cache": "miss"}


async def get_all_recommendations(*, user_id: int, limit: int) -> dict[str, Any]:
    """The first page of every content type at once (concurrently).

    A type that cannot be served because a dependency is down (e.g. the graph, with no model and no
    cached popularity for that type) does not take the others down: its page is null and its error is
    under ``errors``. Only when no type can be served does the call fail, with the first type's error.
    """
    results = await asyncio.gather(
        *(get_recommendations(user_id=user_id, content_type=ct, limit=limit, offset=0) for ct in ContentType),
        return_exceptions=True,
    )
    pages: dict[str, Any] = {}
    errors: dict[str, dict[str, str]] = {}
    for ct, result in zip(ContentType, results, strict=True):
        if isinstance(result, MusicBudError | EngineError) and result.status_code >= 500:
            pages[ct.value] = None
            errors[ct.value] = {"code": result.code, "message": result.message}
            logger.warning("recommendations of %s unavailable: %s", ct.value, result.code)
        elif isinstance(result, BaseException):
            raise result
        else:
            pages[ct.value] = result
    if len(errors) == len(pages):
        first = results[0]
        assert isinstance(first, BaseException)
        raise first
    return {**pages, "errors": errors}


async def get_similar_items(*, content_type: ContentType, item_id: str, limit: int) -> dict[str, Any]:
    """Items most similar to one item by the cosine of their embeddings in the served model."""
    validate_item_id(content_type, item_id)
    artifact = current_model(content_type)
    if artifact is None or artifact.item_index(item_id) is None:
        raise ItemNotFound(item_id=item_id, content_type=content_type.value)
    similar = await asyncio.to_thread(Recommender(artifact).similar_items, item_id, k=limit)
    catalog = await _titles(content_type, [item_id, *(s.item_id for s in similar)])
    return {
        "content_type": content_type.value,
        "model_version": artifact.version,
        "item": _item_json(item_id, catalog),
        "items": [
            {**_item_json(s.item_id, catalog), "similarity": round(s.similarity, 6), "rank": rank}
            for rank, s in enumerate(similar, start=1)
        ],
    }


def model_status() -> dict[str, Any]:
    """Version, training time, counts and offline metrics of each type's served model."""
    status: dict[str, Any] = {}
    for content_type in ContentType:
        artifact = current_model(content_type)
        if artifact is None:
            status[content_type.value] = {"source": POPULARITY_SOURCE, "model_version": None}
            continue
        meta = artifact.metadata
        status[content_type.value] = {
            "source": "model",
            "model_version": artifact.version,
            "trained_at": meta.get("trained_at"),
            "users": artifact.n_users,
            "items": artifact.n_items,
            "interactions": meta.get("counts", {}).get("interactions")
            if isinstance(meta.get("counts"), dict)
            else None,
            "metrics": meta.get("metrics", {}),
            "selection": meta.get("selection"),
        }
    return status
