"""Lists people browse without a personal model: popular, trending and latest items of one type.

The same for every caller (nothing of the caller's is read, so one cached copy serves everyone), paginated,
with the filters of every list (``recommendations.filtering``) applied before the list is cut into pages.

- **popular** and **trending**: the served model's own lists when the type has a model (computed at
  training by the engine's one popularity formula, so they agree with the model version named in the
  answer; trending keeps only items with recent activity); without a model, the data service's lists (its
  1,000 most popular or trending items, cached; their last good copy through a graph outage). Diversity
  re-ranks them with the model's item vectors, so it applies only when there is a model.
- **latest**: the newest items of the catalog, by release year (movies) and then by catalog id, highest
  first (``CatalogIndex.newest_first``). Every catalog item is listed, trained on or not: new items are
  what this list is for, and a model knows no item without interactions. It has no scores to re-rank, so
  ``diversity`` is refused there.

Items operators hid (``recommendations.hiding``) are in none of them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recommendations import hiding, recommending
from recommendations.domain import ContentType
from recommendations.engine import ModelArtifact, Recommender
from recommendations.engine.serving import BoolArray
from recommendations.errors import InvalidFilter
from recommendations.filtering import ListFilters, catalog_index, model_mask

ListName = Literal["popular", "trending", "latest"]
LIST_NAMES: tuple[ListName, ...] = ("popular", "trending", "latest")
CATALOG_SOURCE = "catalog"


@dataclass(frozen=True)
class ListedItem:
    item_id: str
    title: str | None
    genres: tuple[str, ...]
    year: int | None
    score: float | None  # what popular/trending rank by; None in the latest list (ranked by recency)
    rank: int
    image_url: str | None = None


@dataclass(frozen=True)
class ItemList:
    name: ListName
    content_type: str
    source: str  # "model" (the served model's list), "popularity" (the data service's), "catalog" (latest)
    model_version: str  # the served model, or "popularity" without one
    limit: int
    offset: int
    diversity: float  # applied; 0 without a model
    items: tuple[ListedItem, ...]


def list_source(name: ListName, artifact: ModelArtifact | None) -> str:
    """Where a list comes from: the served model, the data service (no model) or the catalog (latest)."""
    if name == "latest":
        return CATALOG_SOURCE
    return recommending.POPULARITY_SOURCE if artifact is None else recommending.MODEL_SOURCE


def _ranked_from_model(
    artifact: ModelArtifact,
    name: ListName,
    *,
    limit: int,
    offset: int,
    filters: ListFilters,
    allowed: BoolArray | None,
) -> list[tuple[str, float]]:
    scores = np.array(artifact.popularity if name == "popular" else artifact.trending, dtype=np.float32)
    if name == "trending":
        # As the data service lists it: only items with recent activity.
        scores[scores <= 0] = -np.inf
    if filters.exclude:
        scores[np.isin(artifact.item_ids, np.asarray(filters.exclude, dtype=np.str_))] = -np.inf
    if allowed is not None:
        scores[~allowed] = -np.inf
    ranked = Recommender(artifact).ranked(scores, k=limit, offset=offset, diversity=filters.diversity)
    return [(str(artifact.item_ids[i]), float(scores[i])) for i in ranked.tolist()]


async def _latest(
    content_type: ContentType, *, limit: int, offset: int, filters: ListFilters, hidden: frozenset[str]
) -> list[str]:
    index = await catalog_index(content_type)
    order = index.newest_first()
    keep = index.allowed(filters)
    left_out = sorted({*filters.exclude, *hidden})
    if left_out:
        positions = index.positions(np.asarray(left_out, dtype=np.str_))
        keep[positions[positions >= 0]] = False
    chosen = order[keep[order]][offset : offset + limit]
    return [str(index.item_ids[i]) for i in chosen.tolist()]


async def get_item_list(
    *,
    content_type: ContentType,
    artifact: ModelArtifact | None,
    name: ListName,
    limit: int,
    offset: int,
    filters: ListFilters,
) -> ItemList:
    """One page of a browsing list of one type; ``artifact`` is the type's served model (None: none yet)."""
    source = list_source(name, artifact)
    diversity = filters.diversity if source == recommending.MODEL_SOURCE else 0.0
    hidden = await hiding.hidden_ids(content_type)
    scored: list[tuple[str, float | None]]
    if name == "latest":
        if filters.diversity > 0:
            raise InvalidFilter("The latest list is ordered by recency: it cannot be diversified.", field="diversity")
        latest = await _latest(content_type, limit=limit, offset=offset, filters=filters, hidden=hidden)
        scored = [(item_id, None) for item_id in latest]
    elif artifact is not None:
        allowed = hiding.model_allowed(artifact, await model_mask(content_type, artifact.item_ids, filters), hidden)
        scored = list(
            await asyncio.to_thread(
                _ranked_from_model, artifact, name, limit=limit, offset=offset, filters=filters, allowed=allowed
            )
        )
    else:
        pool = await recommending.filtered_pool(
            content_type, await recommending.scored_pool(name, content_type), filters, set(hidden)
        )
        scored = list(pool[offset : offset + limit])
    catalog = await recommending.catalog_entries(content_type, [item_id for item_id, _ in scored])
    items = []
    for rank, (item_id, score) in enumerate(scored, start=offset + 1):
        entry = catalog.get(item_id)
        items.append(
            ListedItem(
                item_id=item_id,
                title=entry.title if entry else None,
                genres=tuple(entry.genres) if entry else (),
                image_url=entry.image_url if entry else None,
                year=entry.year if entry else None,
                score=None if score is None else round(score, 6),
                rank=rank,
            )
        )
    return ItemList(
        name=name,
        content_type=content_type.value,
        source=source,
        model_version=artifact.version if artifact is not None else recommending.POPULARITY_SOURCE,
        limit=limit,
        offset=offset,
        diversity=diversity,
        items=tuple(items),
    )


@dataclass(frozen=True)
class PublicLists:
    """One content type's lists for guests (``GET /v1/recommendations/public/``): nothing about any user."""

    content_type: str
    model_version: str  # the served model, or "popularity"
    popular: tuple[ListedItem, ...]
    trending: tuple[ListedItem, ...]


async def get_public_lists(content_type: ContentType, *, limit: int) -> PublicLists:
    """Popular and trending items of a type, as a guest (no token) sees them: the first page of each list."""
    artifact = recommending.current_model(content_type)
    popular, trending = await asyncio.gather(
        *(
            get_item_list(
                content_type=content_type, artifact=artifact, name=name, limit=limit, offset=0, filters=ListFilters()
            )
            for name in ("popular", "trending")
        )
    )
    return PublicLists(content_type.value, popular.model_version, popular.items, trending.items)
