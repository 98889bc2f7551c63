"""The Neo4j backend: interactions as relationships ``(:User)-[:LIKED|RATED|…]->(:Movie|:Manga|:Anime)``.

Reads are shaped for decoding speed. The driver pays a fixed cost per record (a Bolt message, socket
reads, Python bookkeeping: about 100 µs here, far more than decoding a value), so every query that can
return many rows returns ONE record of parallel lists of scalars instead: bulk extraction returns, per
batch of items, the keys and, per item, its users, kinds, values and timestamps as lists. The lists
become numpy arrays with one conversion per column. Most of an extraction is server time and the
server runs a query on one thread, so bulk extraction keeps ``READERS`` batch queries in flight.
Writes are ``UNWIND`` batches of parallel lists and ``MERGE`` on the uniqueness constraints, so
re-recording updates instead of duplicating; bulk writes run ``WRITERS`` transactions at a time and
``CREATE`` the relationships of users that the same transaction creates (none can exist yet).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any, Generic, TypeVar

import neo4j
import numpy as np
import numpy.typing as npt
from neo4j import exceptions as neo4j_errors

from musicbud.graph import aget_async_driver, get_driver

from ..domain import CatalogItem, ContentType, InteractionArrays, InteractionKind
from .arrays import arrays_from_columns
from .graph_profiles import ContentMapping, GenreFormat, encode_genres
from .neo4j_schema import GraphLabels, ensure_schema, graph_errors, kind_case, query
from .ordering import canonical_order, item_sort_key
from .popularity import Window, WindowCount
from .store import DEFAULT_BATCH_SIZE, InteractionStore, RecordedInteraction, RemovedInteraction, plan_batches
from .validation import image_url_or_none, is_mal_type, parse_content_type

# Rows per write transaction: big enough to amortize a round trip, small enough for the heap.
WRITE_BATCH = 20_000
_NAN = float("nan")
# Batch queries in flight during bulk extraction. The server runs each query on one thread and most of
# an extraction is server time, so a second query keeps a second core busy while this process decodes.
READERS = 2
# Concurrent write transactions in bulk writes (disjoint users each): the same reasoning for writes.
WRITERS = 2


R = TypeVar("R")
B = TypeVar("B")


@dataclass(frozen=True)
class Read(Generic[R]):
    """A one-record read: its query text, parameters, and how its record becomes a result."""

    text: str
    params: dict[str, Any]
    decode: Callable[[neo4j.Record], R]


def _from_key(key: int | str) -> str:
    return str(key)


class Neo4jInteractionStore(InteractionStore):
    def __init__(self, labels: GraphLabels | None = None) -> None:
        self.labels = labels or GraphLabels()

    def ensure_schema(self) -> None:
        ensure_schema(get_driver(), self.labels)

    # --- driver access -------------------------------------------------------------------------------
    def _read(self, text: str, **params: Any) -> list[neo4j.Record]:
        with graph_errors():
            return get_driver().execute_query(query(text), params, routing_=neo4j.RoutingControl.READ).records

    def _write(self, text: str, **params: Any) -> list[neo4j.Record]:
        with graph_errors():
            return get_driver().execute_query(query(text), params, routing_=neo4j.RoutingControl.WRITE).records

    def _execute(self, read: Read[R]) -> R:
        (record,) = self._read(read.text, **read.params)
        return read.decode(record)

    async def _aexecute(self, read: Read[R]) -> R:
        with graph_errors():
            driver = await aget_async_driver()
            result = await driver.execute_query(query(read.text), read.params, routing_=neo4j.RoutingControl.READ)
        (record,) = result.records
        return read.decode(record)

    # --- query text ----------------------------------------------------------------------------------
    def _content(self, ct: ContentType) -> ContentMapping:
        return self.labels.profile.content[ct]

    def _item(self, ct: ContentType) -> str:
        return f"`{self.labels.item(ct)}`"

    def _key(self, ct: ContentType) -> str:
        return f"`{self._content(ct).item.key}`"

    def _to_key(self, ct: ContentType, item_id: str) -> int | str:
        """Our string id -> the graph's key (e.g. MAL ids are integers in the graph)."""
        return self._content(ct).item.codec.to_key(item_id)

    def _user(self) -> str:
        return f"`{self.labels.user}`"

    def _rels(self, ct: ContentType) -> str:
        return "|".join(f"`{rel}`" for rel in self._content(ct).rel_types())

    def _rel(self, ct: ContentType, kind: InteractionKind) -> str:
        return f"`{self._content(ct).writes[kind]}`"

    def _rels_of(self, ct: ContentType, kind: InteractionKind) -> str:
        """``A|B`` of the relationship types that read as ``kind`` ("" when the graph has none)."""
        return "|".join(f"`{rel}`" for rel, read in sorted(self._content(ct).reads.items()) if read == kind)

    def _kind_case(self, ct: ContentType, variable: str) -> str:
        return kind_case(variable, self._content(ct).reads)

    def _history_query(self, ct: ContentType) -> str:
        return (
            f"MATCH (u:{self._user()} {{user_id: $user_id}})-[r:{self._rels(ct)}]->(m:{self._item(ct)}) "
            f"RETURN collect(m.{self._content(ct).item.key}) AS keys, collect({self._kind_case(ct, 'r')}) AS kinds, "
            "collect(coalesce(r.value, $nan)) AS values, collect(r.ts) AS ts"
        )

    def _catalog_query(self, ct: ContentType, *, by_keys: bool) -> str:
        key = self._content(ct).item.key
        match = (
            f"UNWIND $keys AS key MATCH (m:{self._item(ct)} {{{key}: key}}) "
            if by_keys
            else f"MATCH (m:{self._item(ct)}) "
        )
        return match + (
            f"RETURN collect(m.{key}) AS keys, collect(coalesce(m.title, '')) AS titles, "
            "collect(coalesce(m.genres, [])) AS genres, collect(coalesce(m.year, -1)) AS years, "
            f"collect({self._pictures(ct)}) AS images"
        )

    def _pictures(self, ct: ContentType) -> str:
        """The item's candidate picture URLs, best first (``image_url`` / the picture nodes' large, then medium)."""
        picture = self._content(ct).item.picture
        if picture is None:
            return "[m.image_url]"
        rel, label = f"`{picture[0]}`", f"`{self.labels.picture(ct)}`"
        return f"[(m)-[:{rel}]->(pic:{label}) | pic.large] + [(m)-[:{rel}]->(pic:{label}) | pic.medium]"

    def _newest_query(self, ct: ContentType) -> str:
        # Per relationship type, newest first through its timestamp index, stopping at the first one
        # between this prefix's users and items, instead of max() over every relationship.
        branches = " UNION ALL ".join(
            f"MATCH (:{self._user()})-[r:{self._rel(ct, kind)}]->(:{self._item(ct)}) WHERE r.ts IS NOT NULL "
            "WITH r ORDER BY r.ts DESC LIMIT 1 RETURN r.ts AS ts"
            for kind in sorted(self._content(ct).writes)
        )
        return f"CALL () {{ {branches} }} RETURN max(ts) AS newest"

    def _window_query(self, ct: ContentType, kinds: list[InteractionKind]) -> str:
        # One branch per relationship type, so each can seek its own timestamp index, aggregated per
        # item node within the branch: the key is read once per item, not once per event.
        branches = " UNION ALL ".join(
            f"MATCH (:{self._user()})-[r:{self._rel(ct, kind)}]->(m:{self._item(ct)}) "
            "WHERE $start <= r.ts <= $end "
            f"WITH m, count(*) AS n, sum(r.ts) AS total RETURN m, {int(kind)} AS kind, n, total"
            for kind in kinds
        )
        return (
            f"CALL () {{ {branches} }} "
            f"RETURN collect(m.{self._content(ct).item.key}) AS keys, collect(kind) AS kinds, collect(n) AS counts, "
            "collect(total) AS totals"
        )

    def _upsert_query(self, ct: ContentType, kind: InteractionKind) -> str:
        return (
            f"MATCH (m:{self._item(ct)} {{{self._content(ct).item.key}: $key}}) "
            f"MERGE (u:{self._user()} {{user_id: $user_id}}) "
            f"MERGE (u)-[r:{self._rel(ct, kind)}]->(m) "
            "SET r.ts = $ts, r.value = $value "
            "RETURN true AS written"
        )

    # --- reads ---------------------------------------------------------------------------------------
    def iter_interactions(
        self, content_type: ContentType | str, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[InteractionArrays]:
        """As ``InteractionStore.iter_interactions``, with the next batch queries already running.

        Same batches in the same order; at most ``READERS`` batches beyond the current one are held.
        """
        ct = parse_content_type(content_type)
        pages = planned_pages(ct, *self._item_degrees(ct), batch_size)
        for batch in read_ahead(pages, partial(self._item_interactions, ct)):
            yield canonical_order(ct, batch)

    def _item_degrees(self, ct: ContentType) -> tuple[list[str], list[int]]:
        # A relationship count without a label on the far end is read from the node's degree store.
        (record,) = self._read(
            f"MATCH (m:{self._item(ct)}) WITH m, COUNT {{ (m)<-[:{self._rels(ct)}]-() }} AS n WHERE n > 0 "
            f"RETURN collect(m.{self._content(ct).item.key}) AS keys, collect(n) AS counts"
        )
        return [_from_key(key) for key in record["keys"]], record["counts"]

    def _item_interactions(self, ct: ContentType, item_ids: list[str]) -> InteractionArrays:
        # ONE record for the whole batch (per item: its interactions as lists of scalars, collected
        # again into lists of lists): per-record costs are paid once per batch, not once per item.
        (record,) = self._read(
            f"UNWIND $keys AS key MATCH (m:{self._item(ct)} {{{self._content(ct).item.key}: key}}) "
            f"CALL (m) {{ MATCH (m)<-[r:{self._rels(ct)}]-(u:{self._user()}) "
            f"RETURN collect(u.user_id) AS users, collect({self._kind_case(ct, 'r')}) AS kinds, "
            "collect(coalesce(r.value, $nan)) AS values, collect(r.ts) AS ts } "
            "RETURN collect(key) AS keys, collect(users) AS users, collect(kinds) AS kinds, "
            "collect(values) AS values, collect(ts) AS ts",
            keys=[self._to_key(ct, item_id) for item_id in item_ids],
            nan=_NAN,
        )
        return collected_arrays(record)

    # The two reads of a fresh recommendation page have a native async form (no thread hop). Each is
    # one Read (query text, parameters, decoding) that the sync and the async form both execute.
    def _history_read(self, ct: ContentType, user_id: int) -> Read[InteractionArrays]:
        return Read(self._history_query(ct), {"user_id": user_id, "nan": _NAN}, partial(history_arrays, user_id))

    def _catalog_read(self, ct: ContentType, item_ids: list[str] | None) -> Read[list[CatalogItem]]:
        decode = self._catalog_decoder(ct)
        if item_ids is None:
            return Read(self._catalog_query(ct, by_keys=False), {}, decode)
        keys = [self._to_key(ct, item_id) for item_id in item_ids]
        return Read(self._catalog_query(ct, by_keys=True), {"keys": keys}, decode)

    def _catalog_decoder(self, ct: ContentType) -> Callable[[neo4j.Record], list[CatalogItem]]:
        return catalog_items

    def _user_history(self, ct: ContentType, user_id: int) -> InteractionArrays:
        return self._execute(self._history_read(ct, user_id))

    async def _auser_history(self, ct: ContentType, user_id: int) -> InteractionArrays:
        return await self._aexecute(self._history_read(ct, user_id))

    def _catalog(self, ct: ContentType, item_ids: list[str] | None) -> list[CatalogItem]:
        return self._execute(self._catalog_read(ct, item_ids))

    async def _acatalog(self, ct: ContentType, item_ids: list[str]) -> list[CatalogItem]:
        return await self._aexecute(self._catalog_read(ct, item_ids))

    def _newest_timestamp(self, ct: ContentType) -> int | None:
        newest: int | None = self._read(self._newest_query(ct))[0]["newest"]
        return newest

    def _window_counts(self, ct: ContentType, window: Window, kinds: list[InteractionKind]) -> list[WindowCount]:
        (record,) = self._read(self._window_query(ct, kinds), start=window.start, end=window.end)
        return window_counts(record)

    # --- writes --------------------------------------------------------------------------------------
    def _upsert_interaction(self, interaction: RecordedInteraction) -> bool:
        ct = interaction.content_type
        records = self._write(
            self._upsert_query(ct, interaction.kind),
            key=self._to_key(ct, interaction.item_id),
            user_id=interaction.user_id,
            ts=interaction.timestamp,
            value=interaction.value,
        )
        return bool(records)

    def _delete_interaction(self, removal: RemovedInteraction) -> bool:
        ct = removal.content_type
        rels = self._rels_of(ct, removal.kind)
        if not rels:
            return False
        # An aggregate always returns one row, so "nothing to delete" is a 0, not an empty result.
        (record,) = self._write(
            f"OPTIONAL MATCH (:{self._user()} {{user_id: $user_id}})-[r:{rels}]->"
            f"(:{self._item(ct)} {{{self._key(ct)}: $key}}) "
            "DELETE r RETURN count(r) AS deleted",
            user_id=removal.user_id,
            key=self._to_key(ct, removal.item_id),
        )
        return bool(record["deleted"])

    def _max_user_id(self) -> int | None:
        top: int | None = self._read(f"MATCH (u:{self._user()}) RETURN max(u.user_id) AS top")[0]["top"]
        return top

    def _forget_user(self, user_id: int) -> int:
        # The user node goes too: it holds nothing but the id, and the id is what is being forgotten.
        records = self._write(
            f"MATCH (u:{self._user()} {{user_id: $user_id}}) WITH u, COUNT {{ (u)-->() }} AS n "
            "DETACH DELETE u RETURN n",
            user_id=user_id,
        )
        return int(records[0]["n"]) if records else 0

    def _upsert_catalog(self, ct: ContentType, items: list[CatalogItem]) -> int:
        item = self._content(ct).item
        # What the profile's item node holds: genres in its format (none for MusicBud's anime and manga),
        # a year where it has one, and on creation the defaults its model writes (neomodel's uid: uuid4 hex).
        sets = ["m.title = row.title"]
        if item.picture is None:
            sets.append("m.image_url = row.image_url")
        if item.genres is not GenreFormat.NONE:
            sets.append("m.genres = row.genres")
        if item.year:
            sets.append("m.year = row.year")
        created = [f"m.`{name}` = $defaults.`{name}`" for name in item.defaults]
        if item.uid:
            created.append("m.uid = replace(randomUUID(), '-', '')")
        on_create = f"ON CREATE SET {', '.join(created)} " if created else ""
        # A picture node as MusicBud's MalService makes one (medium and large: we have one URL for both), for an
        # item that has none; an item's existing pictures are MusicBud's and stay as they are.
        picture = (
            f"WITH m, row WHERE row.image_url IS NOT NULL AND NOT EXISTS {{ (m)-[:`{item.picture[0]}`]->() }} "
            f"CREATE (m)-[:`{item.picture[0]}`]->(:`{self.labels.picture(ct)}` "
            "{medium: row.image_url, large: row.image_url})"
            if item.picture is not None
            else ""
        )
        for start in range(0, len(items), WRITE_BATCH):
            batch = items[start : start + WRITE_BATCH]
            self._write(
                f"UNWIND $rows AS row MERGE (m:{self._item(ct)} {{{self._key(ct)}: row.key}}) "
                f"{on_create}SET {', '.join(sets)} {picture}",
                rows=[
                    {
                        "key": self._to_key(ct, i.item_id),
                        "title": i.title,
                        "genres": encode_genres(item.genres, i.genres),
                        "year": i.year,
                        "image_url": i.image_url,
                    }
                    for i in batch
                ],
                defaults=dict(item.defaults),
            )
        return len(items)

    def _missing_items(self, ct: ContentType, item_ids: list[str]) -> list[str]:
        records = self._read(
            f"UNWIND $keys AS key OPTIONAL MATCH (m:{self._item(ct)} {{{self._content(ct).item.key}: key}}) "
            "WITH key, m WHERE m IS NULL RETURN key",
            keys=[self._to_key(ct, item_id) for item_id in item_ids],
        )
        codec = self._content(ct).item.codec
        return [codec.from_key(r["key"]) or str(r["key"]) for r in records]

    def _write_interactions(self, ct: ContentType, arrays: InteractionArrays) -> None:
        # Rows are distinct (user, item, kind) here. Relationships of a user who did not exist before
        # the transaction that creates them cannot exist yet, so they are CREATEd (about half the cost
        # of MERGE, which must look for the relationship first): a first seeding or import takes that
        # path. Rows of users already in the graph are MERGEd. Jobs write disjoint sets of users.
        keys = arrays.item_ids.astype(np.int64) if is_mal_type(ct) else arrays.item_ids
        known = np.asarray(self._existing_users(np.unique(arrays.user_ids).tolist()), dtype=np.int64)
        new = ~np.isin(arrays.user_ids, known)
        jobs: list[Callable[[], None]] = [
            partial(self._create_new_users, ct, arrays, keys, rows)
            for rows in whole_user_batches(arrays.user_ids, np.flatnonzero(new), WRITE_BATCH)
        ]
        jobs += [
            partial(self._merge_rows, ct, kind, arrays, keys, rows)
            for kind, rows in merge_batches(arrays, keys, np.flatnonzero(~new), WRITE_BATCH)
        ]
        if WRITERS == 1 or len(jobs) == 1:
            for job in jobs:
                job()
            return
        with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="neo4j-write") as pool:
            for _ in pool.map(lambda job: job(), jobs):  # re-raises the first failure
                pass

    def _existing_users(self, user_ids: list[int]) -> list[int]:
        (record,) = self._read(
            f"UNWIND $users AS id MATCH (u:{self._user()} {{user_id: id}}) RETURN collect(id) AS ids", users=user_ids
        )
        ids: list[int] = record["ids"]
        return ids

    def _create_new_users(
        self, ct: ContentType, arrays: InteractionArrays, keys: npt.NDArray[Any], rows: npt.NDArray[np.intp]
    ) -> None:
        """One transaction: CREATE the users, then all their relationships (one block per kind)."""
        users, slots = np.unique(arrays.user_ids[rows], return_inverse=True)
        params: dict[str, Any] = {"users": users.tolist()}
        blocks = []
        for kind in np.unique(arrays.kinds[rows]).tolist():
            mask = arrays.kinds[rows] == kind
            params |= {f"{name}{kind}": column for name, column in row_params(arrays, keys, rows[mask]).items()}
            params[f"slots{kind}"] = slots[mask].tolist()
            rel = self._rel(ct, InteractionKind(kind))
            blocks.append(
                f"CALL (created) {{ UNWIND range(0, size($slots{kind}) - 1) AS i "
                f"WITH created[$slots{kind}[i]] AS u, i "
                f"MATCH (m:{self._item(ct)} {{{self._content(ct).item.key}: $keys{kind}[i]}}) "
                f"CREATE (u)-[:{rel} {{ts: $ts{kind}[i], value: $values{kind}[i]}}]->(m) }}"
            )
        try:
            self._write(
                f"UNWIND $users AS id CREATE (u:{self._user()} {{user_id: id}}) WITH collect(u) AS created "
                + " ".join(blocks),
                **params,
            )
        except neo4j_errors.ConstraintError:
            # Another writer created one of these users after we looked (the transaction was rolled
            # back, nothing was written): upsert the rows instead.
            for kind, kind_rows in merge_batches(arrays, keys, rows, WRITE_BATCH):
                self._merge_rows(ct, kind, arrays, keys, kind_rows)

    def _merge_rows(
        self,
        ct: ContentType,
        kind: InteractionKind,
        arrays: InteractionArrays,
        keys: npt.NDArray[Any],
        rows: npt.NDArray[np.intp],
    ) -> None:
        # Parallel lists pack and unpack much faster than a list of maps.
        self._write(
            f"UNWIND range(0, size($users) - 1) AS i "
            f"MERGE (u:{self._user()} {{user_id: $users[i]}}) "
            f"WITH u, i MATCH (m:{self._item(ct)} {{{self._content(ct).item.key}: $keys[i]}}) "
            f"MERGE (u)-[r:{self._rel(ct, kind)}]->(m) "
            "SET r.ts = $ts[i], r.value = $values[i]",
            users=arrays.user_ids[rows].tolist(),
            **row_params(arrays, keys, rows),
        )


def planned_pages(ct: ContentType, item_ids: list[str], counts: list[int], batch_size: int) -> Iterator[list[str]]:
    """The batches of an extraction: items in key order, about ``batch_size`` rows each."""
    order = sorted(range(len(item_ids)), key=lambda i: item_sort_key(ct)(item_ids[i]))
    return plan_batches([item_ids[i] for i in order], [counts[i] for i in order], max(1, batch_size))


def read_ahead(pages: Iterator[list[str]], read: Callable[[list[str]], B]) -> Iterator[B]:
    """``read(page)`` of each page in order, with up to ``READERS`` more queries already running."""
    pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="neo4j-extract")
    pending: deque[Future[B]] = deque()
    try:
        for page in pages:
            pending.append(pool.submit(read, page))
            if len(pending) > READERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def row_params(arrays: InteractionArrays, keys: npt.NDArray[Any], rows: npt.NDArray[np.intp]) -> dict[str, list[Any]]:
    """The item keys, timestamps and values of some rows as parameter lists (NaN value -> null)."""
    return {
        "keys": keys[rows].tolist(),
        "ts": arrays.timestamps[rows].tolist(),
        "values": [None if math.isnan(v) else v for v in arrays.values[rows].tolist()],
    }


def whole_user_batches(
    user_ids: npt.NDArray[np.int64], rows: npt.NDArray[np.intp], size: int
) -> Iterator[npt.NDArray[np.intp]]:
    """``rows`` grouped by user, in batches of about ``size`` rows that never split a user."""
    rows = rows[np.argsort(user_ids[rows], kind="stable")]
    starts = np.flatnonzero(np.r_[True, user_ids[rows][1:] != user_ids[rows][:-1]])
    begin = 0
    for start in starts.tolist():
        if start - begin >= size:
            yield rows[begin:start]
            begin = start
    if begin < rows.shape[0]:
        yield rows[begin:]


def merge_batches(
    arrays: InteractionArrays, keys: npt.NDArray[Any], rows: npt.NDArray[np.intp], size: int
) -> Iterator[tuple[InteractionKind, npt.NDArray[np.intp]]]:
    """``rows`` by kind and by lane (user id modulo WRITERS), in item-key order, in batches of ``size``.

    Concurrent jobs then never write the same relationship or user, and taking items in key order keeps
    lock conflicts rare; a deadlock is a transient error, which execute_query retries.
    """
    lanes = arrays.user_ids[rows] % WRITERS
    for kind in np.unique(arrays.kinds[rows]).tolist():
        for lane in range(WRITERS):
            chosen = rows[(arrays.kinds[rows] == kind) & (lanes == lane)]
            chosen = chosen[np.argsort(keys[chosen], kind="stable")]
            for start in range(0, chosen.shape[0], size):
                yield InteractionKind(kind), chosen[start : start + size]


def collected_arrays(record: neo4j.Record) -> InteractionArrays:
    """One record of parallel lists (keys; per key its users, kinds, values, timestamps as lists) -> arrays.

    One numpy conversion per column, over the chained per-item lists.
    """
    keys, users, kinds, values, timestamps = record
    counts = [len(item_users) for item_users in users]
    total = sum(counts)
    if total == 0:
        return InteractionArrays.empty()

    def column(lists: list[list[Any]], dtype: type[np.generic]) -> npt.NDArray[Any]:
        return np.fromiter(chain.from_iterable(lists), dtype=dtype, count=total)

    return InteractionArrays(
        user_ids=column(users, np.int64),
        item_ids=np.repeat(np.asarray([_from_key(key) for key in keys], dtype=np.str_), counts),
        kinds=column(kinds, np.int8),
        values=column(values, np.float32),
        timestamps=column(timestamps, np.int64),
    )


def history_arrays(user_id: int, record: neo4j.Record) -> InteractionArrays:
    keys = record["keys"]
    return arrays_from_columns(
        [user_id] * len(keys), [_from_key(key) for key in keys], record["kinds"], record["values"], record["ts"]
    )


def first_image_url(candidates: list[Any]) -> str | None:
    """The first candidate that is a picture URL (``validation.image_url_or_none``), or None."""
    return next((url for url in map(image_url_or_none, candidates) if url is not None), None)


def catalog_items(record: neo4j.Record) -> list[CatalogItem]:
    return [
        CatalogItem(
            item_id=_from_key(key), title=title, genres=tuple(genres), year=None if year < 0 else year,
            image_url=first_image_url(images),
        )
        for key, title, genres, year, images in zip(
            record["keys"], record["titles"], record["genres"], record["years"], record["images"], strict=True
        )
    ]  # fmt: skip


def window_counts(record: neo4j.Record) -> list[WindowCount]:
    return [
        WindowCount(item_id=_from_key(key), kind=kind, count=count, timestamp_sum=total)
        for key, kind, count, total in zip(
            record["keys"], record["kinds"], record["counts"], record["totals"], strict=True
        )
    ]


def graph_store(labels: GraphLabels) -> Neo4jInteractionStore:
    """The Neo4j backend for a graph's profile: users holding their edges (native), or people through accounts."""
    if labels.profile.accounts:
        from .neo4j_accounts import AccountGraphStore  # it needs Django models: imported when used

        return AccountGraphStore(labels)
    return Neo4jInteractionStore(labels)
