"""The catalog as operators browse it (the admin's catalog pages): search, and one item's numbers.

Reads go through the data service, so the pages show the configured store's catalog, Neo4j's or the built-in
one, the same way. A search reads the type's whole catalog once and filters it here: one query either store
answers alike (no second search implementation per backend and graph profile to keep in step), at a cost an
operator's page can pay (``docs/operations.md`` has the measured time).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from asgiref.sync import sync_to_async

from recommendations import hiding, recommending
from recommendations.data import get_interaction_store
from recommendations.data.validation import validate_item_id
from recommendations.domain import CatalogItem, ContentType, InteractionKind
from recommendations.errors import ItemNotFound
from recommendations.models import HiddenItem

HiddenFilter = Literal["", "yes", "no"]  # any, only hidden, only visible
PAGE_SIZE = 50
SIMILAR_ITEMS = 10
MAX_QUERY = 100


@dataclass(frozen=True)
class CatalogRow:
    item: CatalogItem
    hidden: HiddenItem | None  # who hid it, when and why; None while it is in circulation


@dataclass(frozen=True)
class CatalogPage:
    content_type: str
    rows: tuple[CatalogRow, ...]
    total: int  # matching items, all pages
    page: int  # 1-based, clamped to the pages there are
    pages: int
    genres: tuple[str, ...]  # every genre of the type's catalog, for the filter


def _matches(item: CatalogItem, text: str, genre: str) -> bool:
    if genre and genre not in (g.casefold() for g in item.genres):
        return False
    return not text or text in item.item_id.casefold() or text in item.title.casefold()


def search_catalog(
    *, content_type: ContentType, text: str = "", genre: str = "", hidden: HiddenFilter = "", page: int = 1
) -> CatalogPage:
    """Items whose id or title contains ``text`` (any letter case), of ``genre``, hidden or not, one page.

    In the catalog's key order, except that an item whose id is exactly ``text`` comes first.
    """
    catalog = get_interaction_store().catalog(content_type)
    hidden_rows = hiding.hidden_entries(content_type)
    wanted, folded_genre = text.strip().casefold()[:MAX_QUERY], genre.strip().casefold()
    found = [
        item
        for item in catalog
        if _matches(item, wanted, folded_genre) and (not hidden or (item.item_id in hidden_rows) == (hidden == "yes"))
    ]
    found.sort(key=lambda item: item.item_id.casefold() != wanted)  # stable: key order otherwise
    pages = max(1, math.ceil(len(found) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    chosen = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return CatalogPage(
        content_type=content_type.value,
        rows=tuple(CatalogRow(item, hidden_rows.get(item.item_id)) for item in chosen),
        total=len(found),
        page=page,
        pages=pages,
        genres=tuple(sorted({g for item in catalog for g in item.genres}, key=str.casefold)),
    )


@dataclass(frozen=True)
class ItemDetails:
    content_type: str
    item: CatalogItem
    hidden: HiddenItem | None
    interactions: dict[str, int]  # kind name -> how many users have it with this item, in the store now
    users: int  # distinct users with any interaction
    similar: recommending.SimilarItems | None  # from the served model; None when it does not know the item
    model_version: str | None  # the served model, None while the type has none


def _interaction_counts(content_type: ContentType, item_id: str) -> tuple[dict[str, int], int]:
    arrays = get_interaction_store().item_interactions(content_type, item_id)
    kinds = Counter(InteractionKind(int(kind)).name.lower() for kind in arrays.kinds.tolist())
    return dict(sorted(kinds.items())), len(set(arrays.user_ids.tolist()))


async def item_details(*, content_type: ContentType, item_id: str) -> ItemDetails:
    """One catalog item as operators see it: its interactions, its hidden state, its similar items.

    Raises ``InvalidItemId`` for a malformed id and ``ItemNotFound`` when the catalog has no such item.
    """
    validate_item_id(content_type, item_id)
    entries = await get_interaction_store().acatalog_items(content_type, [item_id])
    if item_id not in entries:
        raise ItemNotFound(item_id=item_id, content_type=content_type.value)
    counts, users = await sync_to_async(_interaction_counts)(content_type, item_id)
    hidden = (await sync_to_async(hiding.hidden_entries)(content_type, [item_id])).get(item_id)
    artifact = recommending.current_model(content_type)
    similar = None
    if artifact is not None and artifact.item_index(item_id) is not None:
        # The API's own operation: what clients are shown as this item's similar items (hidden ones left out).
        similar = await recommending.get_similar_items(content_type=content_type, item_id=item_id, limit=SIMILAR_ITEMS)
    return ItemDetails(
        content_type=content_type.value,
        item=entries[item_id],
        hidden=hidden,
        interactions=counts,
        users=users,
        similar=similar,
        model_version=artifact.version if artifact is not None else None,
    )
