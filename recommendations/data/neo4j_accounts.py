"""The Neo4j backend on a graph whose people reach items through account nodes: MusicBud's (``musicbud`` profile).

``(:ParentUser {uid, username})-[:CONNECTED_TO_IMDB]->(:ImdbUser)-[:LIKES|…]->(:ImdbMovie)`` and the same
through ``CONNECTED_TO_MAL`` / ``MalUser`` for anime and manga (``graph_profiles.MUSICBUD`` names them all).

- **Who is a user.** A person is our Django user with the same username (how MusicBud itself joins the two);
  a person without a Django account gets a stable id of 2**62 and up (``graph_profiles.person_user_id``),
  so they still count as training data. Edges of accounts no person is connected to belong to nobody
  and are not read; neither are people without a ``uid`` (MusicBud's model always gives one).
- **Time.** The relationships have none: an edge's time is when this service first saw it
  (``sightings.py``); an edge not recorded yet reads as "now".
- **Values.** None either: a top-list entry reads as rank 1 and a rating as the top of the scale (the
  profile's ``unknown_values``): each one strong positive, all alike.
- **Kinds MusicBud has no relationship for** (any dislike; ratings and "watched" of anime and manga) are
  kept in our own database (``GraphSideInteraction``) and read back with the graph's edges.
- **Writes** create what MusicBud's own models would: the person's ``ImdbUser`` / ``MalUser:User`` when
  it has none (with the properties those models set), then the edge. A person is never created: a like
  from a user without one is ``PersonNotFound`` (the feedback path logs and skips it).
- **Removals** delete the person's edges of that kind (or our own row); **forgetting** a user deletes all
  their edges and our rows about them, never the person or account nodes (MusicBud's to delete).

Extraction reads, per batch of items, each edge's account key and kind (one record, as the native
backend does); people, first-seen times and our own rows are read once per extraction, in bulk.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.auth import get_user_model

from ..domain import CatalogItem, ContentType, InteractionArrays, InteractionKind
from ..errors import PersonNotFound
from ..models import GraphSideInteraction, GraphSighting
from .arrays import arrays_from_rows, keep_last_per_key, take
from .graph_profiles import (
    PERSON_ID_BASE,
    Account,
    AccountService,
    decode_genres,
    person_user_id,
    unknown_values,
)
from .neo4j_schema import GraphLabels
from .neo4j_store import WRITE_BATCH, Neo4jInteractionStore, first_image_url, planned_pages, read_ahead
from .ordering import canonical_order
from .popularity import ArrayWindows, Window, WindowCount
from .sightings import SightingIndex, edge_codes, person_sightings, record_written
from .store import DEFAULT_BATCH_SIZE, InteractionStore, RecordedInteraction, RemovedInteraction, WindowSource
from .validation import parse_content_type

_NAN = float("nan")
_CHUNK = 5_000


@dataclass(frozen=True)
class People:
    """Who is who in one extraction: each account's person, and each person's user id."""

    accounts: dict[str, int]  # account key -> person index
    keys: list[str]  # person index -> person key (ParentUser.uid)
    user_ids: npt.NDArray[np.int64]  # person index -> our user id
    # Some user owns edges through two accounts (two accounts of one person, or two people with one
    # username): the same (user, item, kind) may then come twice and is deduplicated.
    shared: bool


def _account_created(account: Account, extra_labels: Sequence[str]) -> str:
    """The properties MusicBud's model of this account sets, for a new account of person ``p``.

    ImdbUser(user_id, username, email) as its ImdbService creates one (the user_id is a uuid4 hex: we
    know no IMDb user id); MalUser(name, location='', service='mal') plus neomodel's uid and the labels
    of its class hierarchy (no MAL id: we have none to give, and the model does not require one).
    """
    if account.service is AccountService.IMDB:
        return "a.user_id = replace(randomUUID(), '-', ''), a.username = p.username, a.email = p.email"
    labels = "".join(f", a:`{label}`" for label in extra_labels)
    return f"a.uid = replace(randomUUID(), '-', ''), a.name = p.username, a.location = '', a.service = 'mal'{labels}"


class AccountGraphStore(Neo4jInteractionStore):
    # People's usernames, first-seen times and our own rows are in the Django database.
    uses_django_database = True

    def __init__(self, labels: GraphLabels, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(labels)
        assert labels.profile.accounts, "AccountGraphStore reads profiles with account nodes"
        self.clock = clock

    # --- query text ----------------------------------------------------------------------------------
    def _account(self, ct: ContentType) -> Account:
        account = self._content(ct).account
        assert account is not None
        return account

    def _account_pattern(self, ct: ContentType) -> str:
        """``(p)-[:CONNECTED_TO_X]->(a:XUser)``: a person's account of one service."""
        return f"(p)-[:`{self._account(ct).link}`]->(a:`{self.labels.account(ct)}`)"

    def _merge_account(self, ct: ContentType, keep: str = "p") -> str:
        """The person's account (created as MusicBud's model would when it has none), one row per person.

        ``keep``: the variables to carry on (with ``a``). A person with several accounts uses the first.
        """
        created = _account_created(self._account(ct), self.labels.account_labels(ct)[1:])
        key = self._account(ct).key
        # MERGE on the pattern locks the person, so two first likes at once create one account.
        return (
            f"MERGE {self._account_pattern(ct)} ON CREATE SET {created} "
            f"WITH {keep}, a ORDER BY a.`{key}` WITH {keep}, collect(a)[0] AS a "
        )

    # --- people --------------------------------------------------------------------------------------
    def _people(self, ct: ContentType) -> People:
        (record,) = self._read(
            f"MATCH (p:{self._user()})-[:`{self._account(ct).link}`]->(a:`{self.labels.account(ct)}`) "
            f"WHERE p.uid IS NOT NULL AND a.`{self._account(ct).key}` IS NOT NULL "
            f"RETURN collect(a.`{self._account(ct).key}`) AS accounts, collect(p.uid) AS people, "
            "collect(p.username) AS usernames"
        )
        rows = sorted(zip(record["people"], record["accounts"], record["usernames"], strict=True))
        keys = list(dict.fromkeys(person for person, _, _ in rows))
        index = {person: n for n, person in enumerate(keys)}
        usernames = {person: username for person, _, username in rows}
        django = django_user_ids([u for u in usernames.values() if isinstance(u, str)])
        user_ids = np.asarray(
            [django.get(usernames[person], 0) or person_user_id(person) for person in keys], dtype=np.int64
        )
        accounts: dict[str, int] = {}
        for person, account, _ in rows:
            accounts.setdefault(str(account), index[person])  # an account of two people: the first one's
        owners = user_ids[np.asarray(list(accounts.values()), dtype=np.int64)] if accounts else user_ids[:0]
        return People(accounts, keys, user_ids, shared=np.unique(owners).shape[0] < len(accounts))

    def _person_match(self, user_id: int) -> tuple[str, dict[str, Any]] | None:
        """A MATCH of the person(s) of one of our user ids, or None when there is none."""
        if user_id < PERSON_ID_BASE:
            username = (
                get_user_model().objects.filter(pk=user_id).values_list(get_user_model().USERNAME_FIELD, flat=True)
            ).first()
            if username is None:
                return None
            return f"MATCH (p:{self._user()} {{username: $username}}) WHERE p.uid IS NOT NULL ", {"username": username}
        # Someone without a Django account: the person whose uid hashes to this id (never the request
        # path, whose callers all have accounts), unless their username has an account meanwhile.
        (record,) = self._read(
            f"MATCH (p:{self._user()}) WHERE p.uid IS NOT NULL RETURN collect(p.uid) AS people, "
            "collect(p.username) AS usernames"
        )
        for person, username in zip(record["people"], record["usernames"], strict=True):
            if person_user_id(person) == user_id and not django_user_ids([username]):
                return f"MATCH (p:{self._user()} {{uid: $person}}) ", {"person": person}
        return None

    # --- reads ---------------------------------------------------------------------------------------
    def iter_interactions(
        self, content_type: ContentType | str, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[InteractionArrays]:
        """As ``InteractionStore.iter_interactions``; edges first seen by this extraction are recorded at its end."""
        ct = parse_content_type(content_type)
        people = self._people(ct)
        index = SightingIndex(self.labels.namespace, ct, people.keys)
        side = self._side_arrays(ct, user_id=None)
        now = int(self.clock())
        graph_ids, graph_counts = self._item_degrees(ct)
        degrees = dict(zip(graph_ids, graph_counts, strict=True))
        side_ids, side_counts = np.unique(side.item_ids, return_counts=True)
        for item_id, count in zip(side_ids.tolist(), side_counts.tolist(), strict=True):
            degrees[item_id] = degrees.get(item_id, 0) + count
        pages = planned_pages(ct, list(degrees), list(degrees.values()), batch_size)
        unseen: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
        for edges, page_unseen, page in read_ahead(pages, partial(self._edges_of_items, ct, people, index, now)):
            unseen.append(page_unseen)
            mine = side if len(side) == 0 else take(side, np.flatnonzero(np.isin(side.item_ids, page)))
            batch = InteractionArrays.concat([edges, mine])
            yield canonical_order(ct, keep_last_per_key(batch) if people.shared else batch)
        if unseen:
            new_people = np.concatenate([p for p, _ in unseen])
            index.record(new_people, np.concatenate([c for _, c in unseen]), np.full(new_people.shape[0], now))

    def _item_interactions(self, ct: ContentType, item_ids: list[str]) -> InteractionArrays:
        """One batch without recording its unseen edges (``iter_interactions`` is the bulk path)."""
        people = self._people(ct)
        index = SightingIndex(self.labels.namespace, ct, people.keys)
        edges, _, _ = self._edges_of_items(ct, people, index, int(self.clock()), item_ids)
        side = self._side_arrays(ct, user_id=None)
        return InteractionArrays.concat([edges, take(side, np.flatnonzero(np.isin(side.item_ids, item_ids)))])

    def _item_degrees(self, ct: ContentType) -> tuple[list[str], list[int]]:
        (record,) = self._read(
            f"MATCH (m:{self._item(ct)}) WITH m, COUNT {{ (m)<-[:{self._rels(ct)}]-() }} AS n WHERE n > 0 "
            f"RETURN collect(m.{self._key(ct)}) AS keys, collect(n) AS counts"
        )
        codec = self._content(ct).item.codec
        pairs = [(codec.valid(ct, key), n) for key, n in zip(record["keys"], record["counts"], strict=True)]
        # A key that is no valid id (another writer's data) is left out: it could not be recommended.
        return [item for item, _ in pairs if item is not None], [n for item, n in pairs if item is not None]

    def _edges_of_items(
        self, ct: ContentType, people: People, index: SightingIndex, now: int, page: list[str]
    ) -> tuple[InteractionArrays, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]], list[str]]:
        """One batch: the edges on these items (one record) as arrays, the edges not seen before, the page."""
        account = self._account(ct)
        (record,) = self._read(
            f"UNWIND $keys AS key MATCH (m:{self._item(ct)} {{{self._key(ct)}: key}}) "
            f"CALL (m) {{ MATCH (m)<-[r:{self._rels(ct)}]-(a:`{self.labels.account(ct)}`) "
            f"RETURN collect(a.`{account.key}`) AS accounts, collect({self._kind_case(ct, 'r')}) AS kinds }} "
            "RETURN collect(key) AS keys, collect(accounts) AS accounts, collect(kinds) AS kinds",
            keys=[self._to_key(ct, item_id) for item_id in page],
        )
        counts = [len(accounts) for accounts in record["accounts"]]
        total = sum(counts)
        codec = self._content(ct).item.codec
        item_ids = np.repeat(np.asarray([codec.from_key(key) for key in record["keys"]], dtype=np.str_), counts)
        owners = people.accounts.get
        person = np.fromiter((owners(str(a), -1) for a in chain.from_iterable(record["accounts"])), np.int64, total)
        kinds = np.fromiter(chain.from_iterable(record["kinds"]), np.int8, total)
        owned = person >= 0
        person, item_ids, kinds = person[owned], item_ids[owned], kinds[owned]
        codes = edge_codes(ct, item_ids, kinds)
        first_seen, seen = index.lookup(person, codes)
        edges = InteractionArrays(
            user_ids=people.user_ids[person],
            item_ids=item_ids,
            kinds=kinds,
            values=unknown_values(self.labels.profile, kinds),
            timestamps=np.where(seen, first_seen, now),
        )
        return edges, (person[~seen], codes[~seen]), page

    def _user_history(self, ct: ContentType, user_id: int) -> InteractionArrays:
        side = self._side_arrays(ct, user_id=user_id)
        match = self._person_match(user_id)
        if match is None:
            return side
        text, params = match
        item = self._content(ct).item
        (record,) = self._read(
            f"{text}MATCH {self._account_pattern(ct)}-[r:{self._rels(ct)}]->(m:{self._item(ct)}) "
            f"RETURN collect(p.uid) AS people, collect(m.{self._key(ct)}) AS keys, "
            f"collect({self._kind_case(ct, 'r')}) AS kinds",
            **params,
        )
        rows = [
            (person, item_id, kind)
            for person, key, kind in zip(record["people"], record["keys"], record["kinds"], strict=True)
            if (item_id := item.codec.valid(ct, key)) is not None
        ]
        if not rows:
            return side
        people = np.asarray([person for person, _, _ in rows], dtype=np.str_)
        item_ids = np.asarray([item_id for _, item_id, _ in rows], dtype=np.str_)
        kinds = np.asarray([kind for _, _, kind in rows], dtype=np.int8)
        codes = edge_codes(ct, item_ids, kinds)
        # Not recorded here (a read on the request path writes nothing): the next extraction records it.
        stamps = np.full(len(rows), int(self.clock()), dtype=np.int64)
        for person, sightings in person_sightings(self.labels.namespace, ct, np.unique(people).tolist()).items():
            mine = people == person
            first_seen, seen = sightings.lookup(codes[mine])
            stamps[mine] = np.where(seen, first_seen, stamps[mine])
        edges = InteractionArrays(
            user_ids=np.full(len(rows), user_id, dtype=np.int64),
            item_ids=item_ids,
            kinds=kinds,
            values=unknown_values(self.labels.profile, kinds),
            timestamps=stamps,
        )
        return keep_last_per_key(InteractionArrays.concat([edges, side]))

    async def _auser_history(self, ct: ContentType, user_id: int) -> InteractionArrays:
        # The username, the first-seen times and our own rows are in the database: one hop for all of it.
        return await self._run_sync(self._user_history, ct, user_id)

    def _catalog_decoder(self, ct: ContentType) -> Callable[[Any], list[CatalogItem]]:
        return partial(checked_catalog_items, ct, self._content(ct).item.codec)

    def _windows(self, ct: ContentType) -> WindowSource:
        # The times are first-seen times joined in Python: one extraction answers every window of a call.
        return ArrayWindows(self.all_interactions(ct))

    def _newest_timestamp(self, ct: ContentType) -> int | None:
        return self._windows(ct).newest()

    def _window_counts(self, ct: ContentType, window: Window, kinds: list[InteractionKind]) -> list[WindowCount]:
        return self._windows(ct).counts(window, kinds)

    # --- writes --------------------------------------------------------------------------------------
    def _upsert_interaction(self, interaction: RecordedInteraction) -> bool:
        ct = interaction.content_type
        rel = self._content(ct).writes.get(interaction.kind)
        if rel is None:
            if self._missing_items(ct, [interaction.item_id]):
                return False
            self._write_side(ct, [_side_row(self.labels.namespace, interaction)])
            return True
        match = self._person_match(interaction.user_id)
        if match is None:
            raise PersonNotFound(user_id=interaction.user_id)
        text, params = match
        records = self._write(
            f"MATCH (m:{self._item(ct)} {{{self._key(ct)}: $key}}) {text}"
            f"WITH m, p ORDER BY p.uid LIMIT 1 {self._merge_account(ct, 'p, m')}"
            f"MERGE (a)-[:`{rel}`]->(m) RETURN p.uid AS person",
            key=self._to_key(ct, interaction.item_id),
            **params,
        )
        if not records:
            # No item (or, between our two reads, no person any more).
            if self._missing_items(ct, [interaction.item_id]):
                return False
            raise PersonNotFound(user_id=interaction.user_id)
        read_back = self._content(ct).reads[rel]
        code = int(edge_codes(ct, np.asarray([interaction.item_id]), np.asarray([int(read_back)], np.int8))[0])
        record_written(self.labels.namespace, ct, records[0]["person"], code=code, at=interaction.timestamp)
        return True

    def _delete_interaction(self, removal: RemovedInteraction) -> bool:
        """The person's edges of that kind to the item (through their account), or our own row of it."""
        ct = removal.content_type
        side, _ = GraphSideInteraction.objects.filter(
            namespace=self.labels.namespace, content_type=ct.value, user_id=removal.user_id,
            item_id=removal.item_id, kind=removal.kind,
        ).delete()  # fmt: skip
        rels = self._rels_of(ct, removal.kind)
        match = self._person_match(removal.user_id) if rels else None
        if match is None:
            return side > 0
        text, params = match
        records = self._write(
            f"MATCH (m:{self._item(ct)} {{{self._key(ct)}: $key}}) {text}"
            f"OPTIONAL MATCH {self._account_pattern(ct)}-[r:{rels}]->(m) DELETE r RETURN count(r) AS deleted",
            key=self._to_key(ct, removal.item_id),
            **params,
        )
        return side > 0 or any(record["deleted"] for record in records)

    def _max_user_id(self) -> int | None:
        # A person's id is a Django account's or derived from their uid: read as extraction reads them.
        return InteractionStore._max_user_id(self)

    def _forget_user(self, user_id: int) -> int:
        """The person's edges of every type and our rows about them (own kinds, first-seen times).

        The person and account nodes stay: they are MusicBud's accounts, which MusicBud deletes itself.
        """
        side, _ = GraphSideInteraction.objects.filter(namespace=self.labels.namespace, user_id=user_id).delete()
        match = self._person_match(user_id)
        if match is None:
            return side
        text, params = match
        edges, people = 0, set()
        for ct in ContentType:
            for record in self._write(
                f"{text}OPTIONAL MATCH {self._account_pattern(ct)}-[r:{self._rels(ct)}]->(:{self._item(ct)}) "
                "WITH p, collect(r) AS edges FOREACH (r IN edges | DELETE r) RETURN p.uid AS person, size(edges) AS n",
                **params,
            ):
                edges += int(record["n"])
                people.add(str(record["person"]))
        GraphSighting.objects.filter(namespace=self.labels.namespace, person__in=people).delete()
        return side + edges

    def _write_interactions(self, ct: ContentType, arrays: InteractionArrays) -> None:
        writes = self._content(ct).writes
        graph_kinds = np.asarray(sorted(int(kind) for kind in writes), dtype=np.int8)
        in_graph = np.isin(arrays.kinds, graph_kinds)
        side = take(arrays, np.flatnonzero(~in_graph))
        if len(side):
            self._write_side(ct, side_rows(self.labels.namespace, ct, side))
        edges = take(arrays, np.flatnonzero(in_graph))
        if len(edges) == 0:
            return
        people = self._people_of_users(np.unique(edges.user_ids).tolist())
        missing = sorted(set(np.unique(edges.user_ids).tolist()) - set(people))
        if missing:
            raise PersonNotFound(f"{len(missing)} users have no person in the graph.", user_ids=missing[:10])
        person_keys = np.asarray([people[user] for user in edges.user_ids.tolist()], dtype=np.str_)
        read_kinds = np.asarray(
            [int(self._content(ct).reads[writes[InteractionKind(k)]]) for k in edges.kinds.tolist()], dtype=np.int8
        )
        self.write_edges(ct, person_keys, edges.item_ids, read_kinds)
        # Our own writes are first seen at their own times.
        keys = sorted(set(person_keys.tolist()))
        index = SightingIndex(self.labels.namespace, ct, keys)
        person_index = np.searchsorted(np.asarray(keys, dtype=np.str_), person_keys)
        index.record(person_index, edge_codes(ct, edges.item_ids, read_kinds), edges.timestamps)

    def write_edges(
        self,
        ct: ContentType,
        person_keys: npt.NDArray[np.str_],
        item_ids: npt.NDArray[np.str_],
        kinds: npt.NDArray[Any],
    ) -> None:
        """Edges of people (by uid) of the graph's own kinds, through their accounts (created when missing)."""
        content = self._content(ct)
        by_kind = {kind: rel for rel, kind in content.reads.items()}
        accounts = self._ensure_accounts(ct, sorted(set(person_keys.tolist())))
        account_keys = np.asarray([accounts[person] for person in person_keys.tolist()], dtype=object)
        keys = np.asarray([self._to_key(ct, item_id) for item_id in item_ids.tolist()], dtype=object)
        for kind in np.unique(kinds).tolist():
            rows = np.flatnonzero(kinds == kind)
            rows = rows[np.argsort(keys[rows].astype(str), kind="stable")]  # item order: fewer lock conflicts
            for start in range(0, rows.shape[0], WRITE_BATCH):
                chunk = rows[start : start + WRITE_BATCH]
                self._write(
                    f"UNWIND range(0, size($accounts) - 1) AS i "
                    f"MATCH (a:`{self.labels.account(ct)}` {{`{self._account(ct).key}`: $accounts[i]}}) "
                    f"MATCH (m:{self._item(ct)} {{{self._key(ct)}: $keys[i]}}) "
                    f"MERGE (a)-[:`{by_kind[InteractionKind(kind)]}`]->(m)",
                    accounts=account_keys[chunk].tolist(),
                    keys=keys[chunk].tolist(),
                )

    def _ensure_accounts(self, ct: ContentType, person_keys: Sequence[str]) -> dict[str, str]:
        """Each person's account key, the account created (as MusicBud's model would) where missing."""
        found: dict[str, str] = {}
        key = self._account(ct).key
        for start in range(0, len(person_keys), WRITE_BATCH):
            records = self._write(
                f"UNWIND $people AS person MATCH (p:{self._user()} {{uid: person}}) {self._merge_account(ct)}"
                f"RETURN p.uid AS person, a.`{key}` AS account",
                people=list(person_keys[start : start + WRITE_BATCH]),
            )
            found.update({record["person"]: record["account"] for record in records})
        return found

    def _people_of_users(self, user_ids: list[int]) -> dict[int, str]:
        """Our user ids -> their person's uid (the first by uid when a username has several)."""
        usernames = dict(
            get_user_model()
            .objects.filter(pk__in=[u for u in user_ids if u < PERSON_ID_BASE])
            .values_list("pk", get_user_model().USERNAME_FIELD)
        )
        found: dict[int, str] = {}
        if usernames:
            (record,) = self._read(
                f"UNWIND $usernames AS username MATCH (p:{self._user()} {{username: username}}) "
                "WHERE p.uid IS NOT NULL WITH username, min(p.uid) AS person "
                "RETURN collect(username) AS usernames, collect(person) AS people",
                usernames=list(usernames.values()),
            )
            person_of = dict(zip(record["usernames"], record["people"], strict=True))
            found |= {user: person_of[name] for user, name in usernames.items() if name in person_of}
        for user in [u for u in user_ids if u >= PERSON_ID_BASE]:
            match = self._person_match(user)
            if match is not None:
                found[user] = str(match[1]["person"])
        return found

    # --- our own rows (kinds the graph has no relationship for) -------------------------------------
    def _side_arrays(self, ct: ContentType, *, user_id: int | None) -> InteractionArrays:
        rows = GraphSideInteraction.objects.filter(namespace=self.labels.namespace, content_type=ct.value)
        if user_id is not None:
            rows = rows.filter(user_id=user_id)
        return arrays_from_rows(list(rows.values_list("user_id", "item_id", "kind", "value", "timestamp")))

    @staticmethod
    def _write_side(ct: ContentType, rows: list[GraphSideInteraction]) -> None:
        GraphSideInteraction.objects.bulk_create(
            rows,
            batch_size=_CHUNK,
            update_conflicts=True,
            unique_fields=["namespace", "content_type", "user_id", "item_id", "kind"],
            update_fields=["value", "timestamp"],
        )


def django_user_ids(usernames: Sequence[str]) -> dict[str, int]:
    """Username -> id of the Django users that exist among ``usernames``."""
    model = get_user_model()
    found: dict[str, int] = {}
    for start in range(0, len(usernames), _CHUNK):
        chunk = usernames[start : start + _CHUNK]
        found.update(
            model.objects.filter(**{f"{model.USERNAME_FIELD}__in": chunk}).values_list(model.USERNAME_FIELD, "pk")
        )
    return found


def _side_row(namespace: str, interaction: RecordedInteraction) -> GraphSideInteraction:
    return GraphSideInteraction(
        namespace=namespace,
        content_type=interaction.content_type.value,
        user_id=interaction.user_id,
        item_id=interaction.item_id,
        kind=int(interaction.kind),
        value=interaction.value,
        timestamp=interaction.timestamp,
    )


def side_rows(namespace: str, ct: ContentType, arrays: InteractionArrays) -> list[GraphSideInteraction]:
    return [
        GraphSideInteraction(
            namespace=namespace,
            content_type=ct.value,
            user_id=user,
            item_id=item,
            kind=kind,
            value=None if math.isnan(value) else value,
            timestamp=ts,
        )
        for user, item, kind, value, ts in zip(
            arrays.user_ids.tolist(),
            arrays.item_ids.tolist(),
            arrays.kinds.tolist(),
            arrays.values.tolist(),
            arrays.timestamps.tolist(),
            strict=True,
        )
    ]


def checked_catalog_items(ct: ContentType, codec: Any, record: Any) -> list[CatalogItem]:
    """Catalog entries of a graph another service writes: ids checked, genres in either stored format."""
    items = []
    for key, title, genres, year, images in zip(
        record["keys"], record["titles"], record["genres"], record["years"], record["images"], strict=True
    ):
        item_id = codec.valid(ct, key)
        if item_id is not None:
            items.append(
                CatalogItem(
                    item_id=item_id,
                    title=str(title),
                    genres=decode_genres(genres),
                    year=year if isinstance(year, int) and year >= 0 else None,
                    image_url=first_image_url(images),
                )
            )
    return items


@dataclass(frozen=True)
class SeedPerson:
    """A person as MusicBud's backend would hold them: the ParentUser and the accounts its importers made."""

    uid: str
    username: str
    email: str
    imdb_user_id: str | None  # ImdbUser.user_id
    mal_uid: str | None  # MalUser.uid
    mal_user_id: int | None  # MalUser.user_id (the MyAnimeList id)


def write_people(store: AccountGraphStore, people: Sequence[SeedPerson]) -> None:
    """People and their accounts, with the properties MusicBud's models and importers set (seeding only)."""
    labels = store.labels
    imdb, mal = labels.account(ContentType.MOVIES), labels.account_labels(ContentType.ANIME)
    for start in range(0, len(people), WRITE_BATCH):
        store._write(
            f"UNWIND $people AS row MERGE (p:`{labels.user}` {{uid: row.uid}}) "
            "ON CREATE SET p.username = row.username, p.email = row.email "
            "WITH p, row CALL (p, row) { WITH p, row WHERE row.imdb IS NOT NULL "
            f"MERGE (p)-[:CONNECTED_TO_IMDB]->(a:`{imdb}` {{user_id: row.imdb}}) "
            "ON CREATE SET a.username = row.username, a.email = row.email } "
            "CALL (p, row) { WITH p, row WHERE row.mal_uid IS NOT NULL "
            f"MERGE (p)-[:CONNECTED_TO_MAL]->(a:`{mal[0]}` {{uid: row.mal_uid}}) "
            f"ON CREATE SET {''.join(f'a:`{label}`, ' for label in mal[1:])}a.user_id = row.mal, "
            "a.name = row.username, a.location = '', a.service = 'mal' }",
            people=[
                {"uid": p.uid, "username": p.username, "email": p.email, "imdb": p.imdb_user_id,
                 "mal_uid": p.mal_uid, "mal": p.mal_user_id}
                for p in people[start : start + WRITE_BATCH]
            ],
        )  # fmt: skip
