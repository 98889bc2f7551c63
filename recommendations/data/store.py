"""The interaction data service: one interface, two backends (Neo4j graph, Django database).

Callers (the engine, the API, the commands) get a store from ``get_interaction_store()`` and never
know which backend answers. Everything both backends must agree on lives here, once: input checks,
the order of returned rows, batching, and the popularity formula (``popularity.py``). A backend only
implements the storage primitives (the ``_`` methods), each a single query, and only in sync form.

The async surface (``a…`` methods, what the request path awaits) is the sync operation run once off the
event loop. A backend with a natively async client implements the async form of a request-path primitive
itself (Neo4j: a user's history and catalog entries, the two reads of a fresh recommendation page), from
the same query as its sync form so the two cannot drift.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, ParamSpec, Protocol, TypeVar

import numpy as np
from asgiref.sync import sync_to_async
from django.db import connections

from ..domain import CatalogItem, ContentType, InteractionArrays, InteractionKind, ScoredItem
from ..errors import ItemNotFound
from . import popularity
from .arrays import keep_last_per_key
from .ordering import canonical_order, item_sort_key, sort_item_ids
from .popularity import Window, WindowCount
from .validation import (
    ALLOWED_KINDS,
    image_url_or_none,
    parse_content_type,
    validate_arrays,
    validate_interaction,
    validate_item_id,
    validate_item_ids,
    validate_kind,
    validate_user_id,
)

DEFAULT_BATCH_SIZE = 50_000
# Items per batch at most, whatever their row counts: the ids travel as one query parameter list.
MAX_BATCH_ITEMS = 5_000
MAX_LIMIT = 1_000
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class RecordedInteraction:
    """One validated interaction, ready for a backend to upsert."""

    content_type: ContentType
    user_id: int
    item_id: str
    kind: InteractionKind
    value: float | None
    timestamp: int


@dataclass(frozen=True)
class RemovedInteraction:
    """One validated removal (an unlike, a watchlist or top-list removal), ready for a backend to delete."""

    content_type: ContentType
    user_id: int
    item_id: str
    kind: InteractionKind


class WindowSource(Protocol):
    """Where popularity's inputs come from: the newest event time, and event counts inside a window."""

    def newest(self) -> int | None: ...

    def counts(self, window: Window, kinds: list[InteractionKind]) -> list[WindowCount]: ...


@dataclass(frozen=True)
class _StoredWindows:
    """A backend's own queries, one per question (what a store with timestamps in its database does)."""

    store: InteractionStore
    ct: ContentType

    def newest(self) -> int | None:
        return self.store._newest_timestamp(self.ct)

    def counts(self, window: Window, kinds: list[InteractionKind]) -> list[WindowCount]:
        return self.store._window_counts(self.ct, window, kinds)


def _limit(limit: int) -> int:
    return max(0, min(int(limit), MAX_LIMIT))


def _dropping_broken_connections(fn: Callable[P, T]) -> Callable[P, T]:
    """``fn``, then any database connection of this thread that an error broke closed.

    The async surface also runs outside Django's request cycle (the ASGI fast path), in asgiref's one
    process-wide database thread, where no request_started/finished signal manages connections. There the
    thread keeps its (pooled) connection between calls: returning it to the pool after every call and
    taking it back cost ~0.5 ms a call (a reconnect and its health check; /tmp timing, bench data), a
    seventh of a fresh recommendation page. A connection an error broke (a database restart) is closed
    here, so the next call connects again; that failed call itself answers 503. Inside Django's request
    cycle the thread is the request's own and Django closes its connection when the request finishes.
    """

    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            for connection in connections.all(initialized_only=True):
                if connection.errors_occurred and connection.connection is not None and not connection.in_atomic_block:
                    connection.close()

    return call


def plan_batches(item_ids: Sequence[str], counts: Sequence[int], batch_size: int) -> Iterator[list[str]]:
    """Consecutive runs of items whose interactions add up to about ``batch_size`` rows (one item at least)."""
    page: list[str] = []
    rows = 0
    for item_id, count in zip(item_ids, counts, strict=True):
        if page and (rows + count > batch_size or len(page) >= MAX_BATCH_ITEMS):
            yield page
            page, rows = [], 0
        page.append(item_id)
        rows += count
    if page:
        yield page


class InteractionStore(abc.ABC):
    """Interactions, catalog and popularity of every content type.

    Item ids are external ids as strings (IMDb ``tt…``, MyAnimeList numbers); content types may be
    given as ``ContentType`` or its string value. Bad input raises ``InvalidItemId``, ``InvalidUserId``,
    ``InvalidInteraction`` or ``UnknownContentType``; an unreachable backend raises a
    ``DependencyUnavailable`` (``GraphUnavailable`` for Neo4j).
    """

    # The ORM's connections belong to a thread: its sync work runs in Django's one database thread
    # (asgiref's thread-sensitive executor). A thread-safe client (the Neo4j driver) may use any thread.
    uses_django_database: ClassVar[bool] = False

    async def _run_sync(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a sync operation once, off the event loop: one thread hop."""
        if self.uses_django_database:
            return await sync_to_async(_dropping_broken_connections(fn), thread_sensitive=True)(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    # --- interactions, in bulk -----------------------------------------------------------------------
    def iter_interactions(
        self, content_type: ContentType | str, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[InteractionArrays]:
        """All interactions of a type, in batches of about ``batch_size`` rows.

        Rows are grouped by item (items in key order), then ordered by user and kind; an item's rows are
        never split over two batches. Only the current batch is held in memory.
        """
        ct = parse_content_type(content_type)
        item_ids, counts = self._item_degrees(ct)
        order = sorted(range(len(item_ids)), key=lambda i: item_sort_key(ct)(item_ids[i]))
        for page in plan_batches([item_ids[i] for i in order], [counts[i] for i in order], max(1, batch_size)):
            yield canonical_order(ct, self._item_interactions(ct, page))

    def all_interactions(self, content_type: ContentType | str) -> InteractionArrays:
        return InteractionArrays.concat(list(self.iter_interactions(content_type)))

    def item_interactions(self, content_type: ContentType | str, item_id: str) -> InteractionArrays:
        """Every interaction with one item (the admin's catalog page counts them)."""
        ct = parse_content_type(content_type)
        return canonical_order(ct, self._item_interactions(ct, [validate_item_id(ct, item_id)]))

    def user_history(self, content_type: ContentType | str, user_id: int) -> InteractionArrays:
        ct = parse_content_type(content_type)
        return canonical_order(ct, self._user_history(ct, validate_user_id(user_id)))

    async def auser_history(self, content_type: ContentType | str, user_id: int) -> InteractionArrays:
        """``user_history`` for the event loop."""
        ct = parse_content_type(content_type)
        return canonical_order(ct, await self._auser_history(ct, validate_user_id(user_id)))

    # --- catalog -------------------------------------------------------------------------------------
    def catalog(self, content_type: ContentType | str) -> list[CatalogItem]:
        """Every item of the type, in key order."""
        ct = parse_content_type(content_type)
        key = item_sort_key(ct)
        return sorted(self._catalog(ct, None), key=lambda item: key(item.item_id))

    async def acatalog(self, content_type: ContentType | str) -> list[CatalogItem]:
        """``catalog`` for the event loop (the filters' catalog index, rebuilt every few minutes)."""
        return await self._run_sync(self.catalog, content_type)

    def catalog_items(self, content_type: ContentType | str, item_ids: Sequence[str]) -> dict[str, CatalogItem]:
        """The catalog entries of some items (e.g. a page of recommendations); unknown ids are left out."""
        ct = parse_content_type(content_type)
        ids = validate_item_ids(ct, item_ids)
        return {item.item_id: item for item in self._catalog(ct, ids)} if ids else {}

    async def acatalog_items(self, content_type: ContentType | str, item_ids: Sequence[str]) -> dict[str, CatalogItem]:
        """``catalog_items`` for the event loop."""
        ct = parse_content_type(content_type)
        ids = validate_item_ids(ct, item_ids)
        return {item.item_id: item for item in await self._acatalog(ct, ids)} if ids else {}

    # --- popularity ----------------------------------------------------------------------------------
    def popular_items(
        self,
        content_type: ContentType | str,
        *,
        limit: int = 50,
        window_days: float = popularity.POPULAR_WINDOW_DAYS,
        now: int | None = None,
    ) -> list[ScoredItem]:
        """Recency-weighted popularity (formula in ``popularity.py``); ``now`` defaults to the newest event."""
        ct = parse_content_type(content_type)
        source = self._windows(ct)
        end = source.newest() if now is None else int(now)
        if end is None:
            return []
        window = Window.ending_at(end, window_days)
        counts = source.counts(window, self._counted_kinds(ct))
        return popularity.popular_from_counts(ct, counts, window, limit=_limit(limit))

    async def apopular_items(
        self,
        content_type: ContentType | str,
        *,
        limit: int = 50,
        window_days: float = popularity.POPULAR_WINDOW_DAYS,
        now: int | None = None,
    ) -> list[ScoredItem]:
        """``popular_items`` for the event loop (served only while a type has no model, and cached)."""
        return await self._run_sync(self.popular_items, content_type, limit=limit, window_days=window_days, now=now)

    def trending_items(
        self,
        content_type: ContentType | str,
        *,
        limit: int = 50,
        recent_days: float = popularity.TRENDING_RECENT_DAYS,
        baseline_days: float = popularity.TRENDING_BASELINE_DAYS,
        now: int | None = None,
    ) -> list[ScoredItem]:
        """Recent activity against the item's baseline rate (formula in ``popularity.py``)."""
        ct = parse_content_type(content_type)
        source = self._windows(ct)
        end = source.newest() if now is None else int(now)
        if end is None:
            return []
        recent, baseline = Window.ending_at(end, recent_days), Window.ending_at(end, baseline_days)
        kinds = self._counted_kinds(ct)
        return popularity.trending_from_counts(
            ct,
            source.counts(recent, kinds),
            source.counts(baseline, kinds),
            recent_window=recent,
            baseline_window=baseline,
            limit=_limit(limit),
        )

    # --- writes --------------------------------------------------------------------------------------
    def record_interaction(
        self,
        *,
        user_id: int,
        content_type: ContentType | str,
        item_id: str,
        kind: InteractionKind | int,
        value: float | None = None,
        timestamp: int | None = None,
    ) -> None:
        """Record what a user did with a catalog item; again for the same (user, item, kind) updates it.

        ``timestamp`` defaults to now. Raises ``ItemNotFound`` when the item is not in the catalog.
        """
        interaction = self._validated(
            user_id=user_id, content_type=content_type, item_id=item_id, kind=kind, value=value, timestamp=timestamp
        )
        if not self._upsert_interaction(interaction):
            raise ItemNotFound(item_id=interaction.item_id, content_type=interaction.content_type.value)

    async def atrending_items(
        self,
        content_type: ContentType | str,
        *,
        limit: int = 50,
        recent_days: float = popularity.TRENDING_RECENT_DAYS,
        baseline_days: float = popularity.TRENDING_BASELINE_DAYS,
    ) -> list[ScoredItem]:
        """``trending_items`` for the event loop (the public lists while a type has no model; cached)."""
        return await self._run_sync(
            self.trending_items, content_type, limit=limit, recent_days=recent_days, baseline_days=baseline_days
        )

    async def arecord_interaction(
        self,
        *,
        user_id: int,
        content_type: ContentType | str,
        item_id: str,
        kind: InteractionKind | int,
        value: float | None = None,
        timestamp: int | None = None,
    ) -> None:
        """``record_interaction`` for the event loop."""
        await self._run_sync(
            self.record_interaction,
            user_id=user_id,
            content_type=content_type,
            item_id=item_id,
            kind=kind,
            value=value,
            timestamp=timestamp,
        )

    def delete_interaction(
        self, *, user_id: int, content_type: ContentType | str, item_id: str, kind: InteractionKind | int
    ) -> bool:
        """Remove what a user did with an item (an unlike, a watchlist or top-list removal).

        True if the interaction existed. Removing one that is not there is no error: a removal applied
        twice leaves the same state, which is what lets the outbox re-apply an event safely.
        """
        ct = parse_content_type(content_type)
        removal = RemovedInteraction(
            content_type=ct,
            user_id=validate_user_id(user_id),
            item_id=validate_item_id(ct, item_id),
            kind=validate_kind(ct, kind),
        )
        return self._delete_interaction(removal)

    def forget_user(self, user_id: int) -> int:
        """Delete every interaction of one user, of every type (and the user's node in a graph).

        Returns how many interactions there were; 0 for a user the store never saw (idempotent).
        """
        return self._forget_user(validate_user_id(user_id))

    def max_user_id(self) -> int | None:
        """The highest user id with an interaction of any type (None for an empty store): seeding starts after it."""
        return self._max_user_id()

    def upsert_catalog(self, content_type: ContentType | str, items: Iterable[CatalogItem]) -> int:
        """Create or update catalog items (title, genres, year); returns how many were written."""
        ct = parse_content_type(content_type)
        batch = [
            item if item.image_url == image_url_or_none(item.image_url) else replace(item, image_url=None)
            for item in items
        ]
        validate_item_ids(ct, [item.item_id for item in batch])
        return self._upsert_catalog(ct, batch) if batch else 0

    def write_interactions(self, content_type: ContentType | str, arrays: InteractionArrays) -> int:
        """Bulk upsert (imports, seeding): same semantics as ``record_interaction`` for every row.

        Raises ``ItemNotFound`` (and writes nothing) if a row's item is not in the catalog. Callers
        send batches of up to ~100k rows; returns the number of distinct (user, item, kind) rows written.
        """
        ct = parse_content_type(content_type)
        validate_arrays(ct, arrays)
        if len(arrays) == 0:
            return 0
        arrays = keep_last_per_key(arrays)
        missing = self._missing_items(ct, np.unique(arrays.item_ids).tolist())
        if missing:
            raise ItemNotFound(
                f"{len(missing)} items are not in the catalog.",
                content_type=ct.value,
                item_ids=sort_item_ids(ct, missing)[:10],
            )
        self._write_interactions(ct, arrays)
        return len(arrays)

    @abc.abstractmethod
    def ensure_schema(self) -> None:
        """Create what the queries need (constraints, indexes); idempotent."""

    # --- helpers -------------------------------------------------------------------------------------
    def _windows(self, ct: ContentType) -> WindowSource:
        """Popularity's inputs for one call; a backend without times in its database derives them once."""
        return _StoredWindows(self, ct)

    @staticmethod
    def _counted_kinds(ct: ContentType) -> list[InteractionKind]:
        return popularity.counted_kinds(ALLOWED_KINDS[ct])

    @staticmethod
    def _validated(
        *,
        user_id: int,
        content_type: ContentType | str,
        item_id: str,
        kind: InteractionKind | int,
        value: float | None,
        timestamp: int | None,
    ) -> RecordedInteraction:
        ct = parse_content_type(content_type)
        ts = int(time.time()) if timestamp is None else int(timestamp)
        checked_kind, checked_value = validate_interaction(ct, kind, value, ts)
        return RecordedInteraction(
            content_type=ct,
            user_id=validate_user_id(user_id),
            item_id=validate_item_id(ct, item_id),
            kind=checked_kind,
            value=checked_value,
            timestamp=ts,
        )

    # --- storage primitives, one query each ----------------------------------------------------------
    @abc.abstractmethod
    def _item_degrees(self, ct: ContentType) -> tuple[list[str], list[int]]:
        """Ids of the items that have interactions, and how many each has (any order)."""

    @abc.abstractmethod
    def _item_interactions(self, ct: ContentType, item_ids: list[str]) -> InteractionArrays:
        """All interactions on these items (any order)."""

    @abc.abstractmethod
    def _user_history(self, ct: ContentType, user_id: int) -> InteractionArrays: ...

    async def _auser_history(self, ct: ContentType, user_id: int) -> InteractionArrays:
        return await self._run_sync(self._user_history, ct, user_id)

    @abc.abstractmethod
    def _catalog(self, ct: ContentType, item_ids: list[str] | None) -> list[CatalogItem]:
        """The catalog entries of these items (all items for None; any order)."""

    async def _acatalog(self, ct: ContentType, item_ids: list[str]) -> list[CatalogItem]:
        return await self._run_sync(self._catalog, ct, item_ids)

    @abc.abstractmethod
    def _newest_timestamp(self, ct: ContentType) -> int | None: ...

    @abc.abstractmethod
    def _window_counts(self, ct: ContentType, window: Window, kinds: list[InteractionKind]) -> list[WindowCount]: ...

    @abc.abstractmethod
    def _upsert_interaction(self, interaction: RecordedInteraction) -> bool:
        """False when the item is not in the catalog (nothing written)."""

    @abc.abstractmethod
    def _delete_interaction(self, removal: RemovedInteraction) -> bool:
        """False when there was nothing to delete."""

    def _max_user_id(self) -> int | None:
        """Every interaction read once; a backend with user ids in its database asks it instead (one query)."""
        top = [int(arrays.user_ids.max()) for ct in ContentType for arrays in self.iter_interactions(ct) if len(arrays)]
        return max(top, default=None)

    @abc.abstractmethod
    def _forget_user(self, user_id: int) -> int:
        """Delete all of one user's interactions (every type); returns how many there were."""

    @abc.abstractmethod
    def _upsert_catalog(self, ct: ContentType, items: list[CatalogItem]) -> int: ...

    @abc.abstractmethod
    def _missing_items(self, ct: ContentType, item_ids: list[str]) -> list[str]: ...

    @abc.abstractmethod
    def _write_interactions(self, ct: ContentType, arrays: InteractionArrays) -> None: ...
