"""Filters of every list (personalized, popular, trending, latest, similar) and the catalog index they read.

A list is filtered before it is cut into pages: the filter becomes a flag per candidate item (``allowed``)
and the ranking runs over the flagged items only, so page n of a filtered list is the n-th slice of the
filtered ranking: full whenever enough items match, and stable for one model version.

- ``genre`` (repeatable): items with any of these genres (any-of), named as the catalog spells them, in
  any letter case; a genre the type's catalog does not have is an error (``unknown_genre``), never an
  empty list.
- ``year_min`` / ``year_max`` (movies only: the only type with release years): items without a year are
  left out once a bound is given.
- ``exclude``: item ids the client hides (at most ``MAX_EXCLUDE``; repeatable or comma-separated).
- ``diversity`` (0..1): the engine's MMR re-ranking over the served model's item vectors.

Genres and years come from the catalog, not from the model: the **catalog index** of a type (its item ids
in the model's order, a bitset of genres and the year per item, and the "newest first" order of the latest
list) is built from the data service's catalog, cached in the shared cache for ``CATALOG_INDEX_TTL_S``
(its last good copy serves through a graph outage), and read only when a list has to be computed.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from musicbud.errors import GraphUnavailable
from recommendations import caching
from recommendations.data import get_interaction_store
from recommendations.data.ordering import item_ranks
from recommendations.data.validation import validate_item_ids
from recommendations.domain import CatalogItem, ContentType
from recommendations.errors import InvalidFilter, TooManyExcludes, UnknownGenre

logger = logging.getLogger(__name__)

MAX_EXCLUDE = 100
MAX_GENRES = 20
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ListFilters:
    """A list's filters, canonical: equal filters give equal cache keys whatever order they came in."""

    genres: tuple[str, ...] = ()  # case-folded, sorted; the catalog's spelling is resolved by the index
    year_min: int | None = None
    year_max: int | None = None
    exclude: tuple[str, ...] = ()  # sorted, unique
    diversity: float = 0.0

    @property
    def narrows(self) -> bool:
        """Whether the filter needs the catalog (genres, years), not just the ids to hide."""
        return bool(self.genres) or self.year_min is not None or self.year_max is not None

    @property
    def empty(self) -> bool:
        return not self.narrows and not self.exclude and self.diversity == 0.0

    def cache_tag(self) -> str:
        """The filters' part of a cache key ("" without filters)."""
        if self.empty:
            return ""
        return json.dumps([self.genres, self.year_min, self.year_max, self.exclude, self.diversity])


def _split(values: Iterable[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _split_ids(values: Iterable[str]) -> list[str]:
    """Comma-separated ids, verbatim: `` tt0111161`` is not an id (the schema's pattern says exactly what is)."""
    return [part for value in values for part in value.split(",") if part]


def parse_filters(
    content_type: ContentType,
    *,
    genres: Sequence[str] = (),
    year_min: int | None = None,
    year_max: int | None = None,
    exclude: Sequence[str] = (),
    diversity: float = 0.0,
) -> ListFilters:
    """Filters from the query (already type-checked), validated: malformed ids, too many, bad year ranges."""
    hidden = sorted(set(_split_ids(exclude)))
    if len(hidden) > MAX_EXCLUDE:
        raise TooManyExcludes(f"At most {MAX_EXCLUDE} item ids can be excluded.", count=len(hidden), limit=MAX_EXCLUDE)
    validate_item_ids(content_type, hidden)
    wanted = sorted({genre.casefold() for genre in _split(genres)})
    if len(wanted) > MAX_GENRES:
        raise InvalidFilter(f"At most {MAX_GENRES} genres.", field="genre")
    if (year_min is not None or year_max is not None) and content_type is not ContentType.MOVIES:
        raise InvalidFilter(f"{content_type.value} have no release years to filter on.", field="year_min")
    if year_min is not None and year_max is not None and year_min > year_max:
        raise InvalidFilter("year_min is after year_max.", field="year_min")
    return ListFilters(tuple(wanted), year_min, year_max, tuple(hidden), float(diversity))


@dataclass(frozen=True)
class CatalogIndex:
    """What filters and the latest list need to know about every catalog item of one type."""

    content_type: ContentType
    item_ids: npt.NDArray[np.str_]  # sorted as numpy sorts strings: the order of a model's item_ids
    genres: tuple[str, ...]  # the vocabulary, sorted
    genre_bits: npt.NDArray[np.uint8]  # (items, ceil(genres / 8)): bit g of an item = it has genres[g]
    years: npt.NDArray[np.int16]  # release year, -1 where unknown

    @classmethod
    def build(cls, content_type: ContentType, catalog: Sequence[CatalogItem]) -> CatalogIndex:
        items = sorted(catalog, key=lambda item: item.item_id)
        vocabulary = sorted({genre for item in items for genre in item.genres})
        column = {genre: n for n, genre in enumerate(vocabulary)}
        flags = np.zeros((len(items), max(len(vocabulary), 1)), dtype=bool)
        for row, item in enumerate(items):
            flags[row, [column[genre] for genre in item.genres]] = True
        return cls(
            content_type=content_type,
            item_ids=np.asarray([item.item_id for item in items], dtype=np.str_).reshape(len(items)),
            genres=tuple(vocabulary),
            genre_bits=np.packbits(flags, axis=1),
            years=np.asarray([item.year if item.year is not None else -1 for item in items], dtype=np.int16),
        )

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            item_ids=self.item_ids.astype(np.bytes_),  # ids are ASCII: a quarter of the UTF-32 size
            genres=np.frombuffer(json.dumps(self.genres).encode(), dtype=np.uint8),
            genre_bits=self.genre_bits,
            years=self.years,
            content_type=np.frombuffer(self.content_type.value.encode(), dtype=np.uint8),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CatalogIndex:
        with np.load(io.BytesIO(raw), allow_pickle=False) as arrays:
            return cls(
                content_type=ContentType(arrays["content_type"].tobytes().decode()),
                item_ids=arrays["item_ids"].astype(np.str_),
                genres=tuple(json.loads(arrays["genres"].tobytes())),
                genre_bits=arrays["genre_bits"],
                years=arrays["years"],
            )

    def resolve_genres(self, genres: Sequence[str]) -> list[int]:
        """Vocabulary positions of case-folded genre names; UnknownGenre names the first unknown one."""
        by_folded = {genre.casefold(): n for n, genre in enumerate(self.genres)}
        missing = [genre for genre in genres if genre not in by_folded]
        if missing:
            raise UnknownGenre(
                f"{self.content_type.value} have no genre {missing[0]!r}.", genre=missing[0], known=list(self.genres)
            )
        return [by_folded[genre] for genre in genres]

    def allowed(self, filters: ListFilters) -> BoolArray:
        """One flag per catalog item (``item_ids`` order): it passes the genre and year filters."""
        keep = np.ones(self.item_ids.shape[0], dtype=bool)
        if filters.genres:
            wanted = np.zeros(self.genre_bits.shape[1] * 8, dtype=bool)
            wanted[self.resolve_genres(filters.genres)] = True
            keep &= (self.genre_bits & np.packbits(wanted)).any(axis=1)
        if filters.year_min is not None:
            keep &= self.years >= filters.year_min
        if filters.year_max is not None:
            keep &= (self.years >= 0) & (self.years <= filters.year_max)
        return keep

    def positions(self, item_ids: npt.NDArray[np.str_]) -> npt.NDArray[np.int64]:
        """Catalog position of each id, -1 where the catalog has no such item."""
        if item_ids.shape[0] == 0 or self.item_ids.shape[0] == 0:
            return np.full(item_ids.shape[0], -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.item_ids, item_ids), self.item_ids.shape[0] - 1)
        return np.where(self.item_ids[pos] == item_ids, pos, -1).astype(np.int64)

    def allowed_of(self, item_ids: npt.NDArray[np.str_], filters: ListFilters) -> BoolArray:
        """``allowed`` for other items (a model's, a pool's): an item the catalog lacks passes no narrowing filter."""
        pos = self.positions(item_ids)
        if self.item_ids.shape[0] == 0:
            return np.zeros(item_ids.shape[0], dtype=bool)
        return (pos >= 0) & self.allowed(filters)[np.maximum(pos, 0)]

    def newest_first(self) -> npt.NDArray[np.int64]:
        """Catalog positions, newest first: by release year (unknown last), then by id, highest first.

        IMDb and MyAnimeList number their entries in the order they were added, so among items of one year
        (or without years: manga and anime) a higher id is a newer entry.
        """
        ranks = item_ranks(self.content_type, self.item_ids)
        return np.lexsort((-ranks, -self.years.astype(np.int64))).astype(np.int64)


async def catalog_index(content_type: ContentType) -> CatalogIndex:
    """The type's catalog index: cached, or built from the data service (its last good copy on an outage)."""
    fresh, last_good = await caching.cached_catalog_index(content_type.value)
    if fresh is not None:
        return CatalogIndex.from_bytes(fresh)
    try:
        catalog = await get_interaction_store().acatalog(content_type)
    except GraphUnavailable:
        if last_good is None:
            raise
        logger.warning("graph unavailable: filtering %s with the last known catalog", content_type.value)
        return CatalogIndex.from_bytes(last_good)
    index = CatalogIndex.build(content_type, catalog)
    await caching.store_catalog_index(content_type.value, index.to_bytes())
    return index


async def model_mask(
    content_type: ContentType, item_ids: npt.NDArray[np.str_], filters: ListFilters
) -> BoolArray | None:
    """``allowed`` over some items (a model's), or None when nothing narrows them (no catalog read)."""
    if not filters.narrows:
        return None
    return (await catalog_index(content_type)).allowed_of(item_ids, filters)
