"""Reading recommendations: the domain operations behind the API's GET endpoints, returning typed results.

Each public function is one operation for one user or item and one content type. Caching of rendered
pages is the API layer's (``recommendations.api.pages``); what is computed here is what would be cached.
Scoring runs in a worker thread (numpy releases the GIL), so the event loop serves other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from musicbud.errors import GraphUnavailable
from recommendations import caching, forgetting, hiding
from recommendations.data import get_interaction_store
from recommendations.data.validation import validate_item_id
from recommendations.domain import CatalogItem, ContentType, InteractionArrays
from recommendations.engine import History, ModelArtifact, ModelNotFound, ModelStore, Recommender
from recommendations.engine.serving import REASON_BECAUSE_YOU_LIKED, REASON_POPULAR, BoolArray
from recommendations.errors import ItemNotFound
from recommendations.experiments import assign_variant
from recommendations.filtering import ListFilters, catalog_index, model_mask

logger = logging.getLogger(__name__)

POPULARITY_SOURCE = "popularity"
MODEL_SOURCE = "model"
# Variant of the A/B experiment that is served popularity only (the baseline arm).
POPULAR_VARIANT = "popular"
_POPULAR_POOL = 1000

_model_stores: dict[Path, ModelStore] = {}
_logged_no_model: set[str] = set()


# --- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemInfo:
    """An item as the catalog describes it (title None when the catalog could not be read)."""

    item_id: str
    title: str | None
    genres: tuple[str, ...]
    image_url: str | None = None


@dataclass(frozen=True)
class Reason:
    code: str  # "popular" or "because_you_liked"
    item: ItemInfo | None = None  # the liked item that explains it


@dataclass(frozen=True)
class RecommendedItem:
    item_id: str
    title: str | None
    genres: tuple[str, ...]
    score: float
    rank: int  # 1-based position in the full ranking (offset + index + 1)
    reason: Reason
    image_url: str | None = None


@dataclass(frozen=True)
class RecommendationPage:
    content_type: str
    source: str  # "model", or "popularity" (cold start, no model, or the popular A/B arm)
    model_version: str  # the model version, or "popularity" when no model exists
    variant: str
    limit: int
    offset: int
    items: tuple[RecommendedItem, ...]
    diversity: float = 0.0  # the diversity applied: 0 when none was asked for or no model can apply it


@dataclass(frozen=True)
class SimilarItem:
    item_id: str
    title: str | None
    genres: tuple[str, ...]
    similarity: float
    rank: int
    image_url: str | None = None


@dataclass(frozen=True)
class SimilarItems:
    content_type: str
    model_version: str
    item: ItemInfo
    items: tuple[SimilarItem, ...]
    limit: int = 10
    offset: int = 0
    diversity: float = 0.0


@dataclass(frozen=True)
class ModelState:
    """What serves one content type: a model (with its metadata) or the popularity fallback."""

    source: str
    model_version: str | None
    trained_at: str | None = None
    users: int | None = None
    items: int | None = None
    interactions: int | None = None
    metrics: dict[str, object] | None = None
    selection: dict[str, object] | None = None  # the candidates model selection compared, and the winner


# --- the served model ---------------------------------------------------------------------------------


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
class Serving:
    """What answers one user's request for one type right now: the model (or none) and the A/B variant.

    Decided once per request, so the cache key and the computed page name the same model version even
    when a new model is published meanwhile.
    """

    content_type: ContentType
    artifact: ModelArtifact | None
    variant: str

    @property
    def model_version(self) -> str:
        return self.artifact.version if self.artifact is not None else POPULARITY_SOURCE


def serving_for(user_id: int, content_type: ContentType) -> Serving:
    return Serving(content_type=content_type, artifact=current_model(content_type), variant=assign_variant(user_id))


# --- recommendations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ranked:
    item_id: str
    score: float
    reason: str
    because_item_id: str | None = None


async def _user_history(
    content_type: ContentType, user_id: int, artifact: ModelArtifact | None
) -> InteractionArrays | None:
    """The user's current history, or None when the graph is down (the model's own copy is used then).

    The model's copy is not used for a user forgotten since the model's data was read: their history is
    then empty, as the data service's now is.
    """
    try:
        return await get_interaction_store().auser_history(content_type, user_id)
    except GraphUnavailable as exc:
        if artifact is not None and await forgetting.ais_masked(user_id, artifact):
            return InteractionArrays.empty()
        logger.warning("history of user %s unavailable (%s); serving from the model's copy", user_id, exc)
        return None


async def scored_pool(name: caching.PoolName, content_type: ContentType) -> caching.PopularPool:
    """The data service's popular (or trending) items of a type, cached; the last good copy on an outage."""
    fresh, last_good = await caching.cached_pool(name, content_type.value)
    if fresh is not None:
        return fresh
    store = get_interaction_store()
    try:
        if name == "popular":
            scored = await store.apopular_items(content_type, limit=_POPULAR_POOL)
        else:
            scored = await store.atrending_items(content_type, limit=_POPULAR_POOL)
    except GraphUnavailable:
        if last_good is None:
            raise
        logger.warning("graph unavailable: serving the last known %s %s items", name, content_type.value)
        return last_good
    pool = [(item.item_id, float(item.score)) for item in scored]
    await caching.store_pool(name, content_type.value, pool)
    return pool


async def popular_pool(content_type: ContentType) -> caching.PopularPool:
    """Recency-weighted popular items of a type from the data service (served while a type has no model)."""
    return await scored_pool("popular", content_type)


async def filtered_pool(
    content_type: ContentType, pool: caching.PopularPool, filters: ListFilters, hidden: set[str]
) -> caching.PopularPool:
    """A pool's entries that pass the filters and are neither excluded by the client nor in ``hidden`` (what the
    user has seen, the items operators hid)."""
    hidden = hidden | set(filters.exclude)
    kept = [(item_id, score) for item_id, score in pool if item_id not in hidden]
    if not filters.narrows or not kept:
        return kept
    index = await catalog_index(content_type)
    passes = index.allowed_of(np.asarray([item_id for item_id, _ in kept], dtype=np.str_), filters)
    return [entry for entry, ok in zip(kept, passes.tolist(), strict=True) if ok]


def _history_of(arrays: InteractionArrays | None) -> History | None:
    if arrays is None:
        return None
    return History(item_ids=arrays.item_ids, kinds=arrays.kinds, values=arrays.values, timestamps=arrays.timestamps)


def _score_with_model(
    artifact: ModelArtifact,
    *,
    user_id: int,
    history: History | None,
    limit: int,
    offset: int,
    popular_only: bool,
    filters: ListFilters,
    allowed: BoolArray | None,
) -> tuple[list[_Ranked], str]:
    recommender = Recommender(artifact)
    if popular_only:
        exclude = [*([] if history is None else history.item_ids.tolist()), *filters.exclude]
        items = recommender.popular(
            k=limit, offset=offset, exclude=exclude, allowed=allowed, diversity=filters.diversity
        )
        return [_Ranked(r.item_id, r.score, r.reason) for r in items], POPULARITY_SOURCE
    result = recommender.recommend(
        user_id, k=limit, offset=offset, history=history, exclude=filters.exclude, diversity=filters.diversity,
        allowed=allowed,
    )  # fmt: skip
    ranked = [_Ranked(r.item_id, r.score, r.reason, r.because_item_id) for r in result.items]
    source = POPULARITY_SOURCE if result.source == "popularity" else MODEL_SOURCE
    return ranked, source


async def _score_without_model(
    content_type: ContentType,
    history: InteractionArrays | None,
    *,
    limit: int,
    offset: int,
    filters: ListFilters,
    hidden: frozenset[str],
) -> list[_Ranked]:
    seen = set() if history is None else set(history.item_ids.tolist())
    pool = await filtered_pool(content_type, await popular_pool(content_type), filters, seen | hidden)
    return [_Ranked(item_id, score, REASON_POPULAR) for item_id, score in pool[offset : offset + limit]]


async def catalog_entries(content_type: ContentType, item_ids: list[str]) -> dict[str, CatalogItem]:
    """Titles and genres of some items for an answer; none (logged) while the graph is down."""
    if not item_ids:
        return {}
    try:
        return await get_interaction_store().acatalog_items(content_type, item_ids)
    except GraphUnavailable as exc:
        logger.warning("catalog unavailable (%s): serving recommendations without titles", exc)
        return {}


def _info(item_id: str, catalog: dict[str, CatalogItem]) -> ItemInfo:
    entry = catalog.get(item_id)
    if entry is None:
        return ItemInfo(item_id, None, ())
    return ItemInfo(item_id, entry.title, tuple(entry.genres), entry.image_url)


async def get_recommendations(
    serving: Serving, *, user_id: int, limit: int, offset: int, filters: ListFilters | None = None
) -> RecommendationPage:
    """One page of a user's recommendations of one type, freshly scored by what ``serving`` names.

    ``filters`` apply before the ranking is cut into pages (``recommendations.filtering``), and so do hidden
    items (``recommendations.hiding``).
    """
    content_type, artifact = serving.content_type, serving.artifact
    filters = filters or ListFilters()
    history = await _user_history(content_type, user_id, artifact)
    hidden = await hiding.hidden_ids(content_type)
    if artifact is None:
        ranked = await _score_without_model(
            content_type, history, limit=limit, offset=offset, filters=filters, hidden=hidden
        )
        source, diversity = POPULARITY_SOURCE, 0.0
    else:
        allowed = hiding.model_allowed(artifact, await model_mask(content_type, artifact.item_ids, filters), hidden)
        ranked, source = await asyncio.to_thread(
            _score_with_model,
            artifact,
            user_id=user_id,
            history=_history_of(history),
            limit=limit,
            offset=offset,
            popular_only=serving.variant == POPULAR_VARIANT,
            filters=filters,
            allowed=allowed,
        )
        diversity = filters.diversity
    catalog = await catalog_entries(
        content_type, sorted({r.item_id for r in ranked} | {r.because_item_id or "" for r in ranked} - {""})
    )
    items = []
    for position, entry in enumerate(ranked, start=offset + 1):
        because = entry.because_item_id if entry.reason == REASON_BECAUSE_YOU_LIKED else None
        reason = Reason(entry.reason, _info(because, catalog) if because else None)
        info = _info(entry.item_id, catalog)
        items.append(
            RecommendedItem(
                info.item_id, info.title, info.genres, round(entry.score, 6), position, reason, info.image_url
            )
        )
    return RecommendationPage(
        content_type=content_type.value,
        source=source,
        model_version=serving.model_version,
        variant=serving.variant,
        limit=limit,
        offset=offset,
        items=tuple(items),
        diversity=diversity,
    )


async def get_similar_items(
    *, content_type: ContentType, item_id: str, limit: int, offset: int = 0, filters: ListFilters | None = None
) -> SimilarItems:
    """Items most similar to one item in the served model (filtered before the ranking is paged).

    Hidden items are never among them. A hidden item's own neighbours are still answered: they are other,
    visible items, and the admin's catalog page shows them for the hidden item too.
    """
    validate_item_id(content_type, item_id)
    filters = filters or ListFilters()
    artifact = current_model(content_type)
    if artifact is None or artifact.item_index(item_id) is None:
        raise ItemNotFound(item_id=item_id, content_type=content_type.value)
    allowed = hiding.model_allowed(
        artifact, await model_mask(content_type, artifact.item_ids, filters), await hiding.hidden_ids(content_type)
    )
    if filters.exclude:
        allowed = np.ones(artifact.n_items, dtype=bool) if allowed is None else allowed
        allowed[np.isin(artifact.item_ids, np.asarray(filters.exclude, dtype=np.str_))] = False
    similar = await asyncio.to_thread(
        Recommender(artifact).similar_items, item_id, k=limit, offset=offset, allowed=allowed,
        diversity=filters.diversity,
    )  # fmt: skip
    catalog = await catalog_entries(content_type, [item_id, *(s.item_id for s in similar)])
    items = []
    for rank, entry in enumerate(similar, start=offset + 1):
        info = _info(entry.item_id, catalog)
        items.append(
            SimilarItem(info.item_id, info.title, info.genres, round(entry.similarity, 6), rank, info.image_url)
        )
    return SimilarItems(
        content_type=content_type.value,
        model_version=artifact.version,
        item=_info(item_id, catalog),
        items=tuple(items),
        limit=limit,
        offset=offset,
        diversity=filters.diversity,
    )


def model_status() -> dict[str, ModelState]:
    """Version, training time, counts and offline metrics of each type's served model."""
    status: dict[str, ModelState] = {}
    for content_type in ContentType:
        artifact = current_model(content_type)
        if artifact is None:
            status[content_type.value] = ModelState(source=POPULARITY_SOURCE, model_version=None)
            continue
        meta = artifact.metadata
        counts = meta.get("counts")
        # The same source the pages of this model say: a trained popularity model serves the popular list.
        status[content_type.value] = ModelState(
            source=POPULARITY_SOURCE if meta.get("model") == "popularity" else MODEL_SOURCE,
            model_version=artifact.version,
            trained_at=meta.get("trained_at"),
            users=artifact.n_users,
            items=artifact.n_items,
            interactions=counts.get("interactions") if isinstance(counts, dict) else None,
            metrics=dict(meta.get("metrics", {})),
            selection=meta.get("selection"),
        )
    return status
