"""First-seen times: the timestamp substitute for a graph whose relationships carry no time (MusicBud's).

An edge's time is when this service first saw it: the time it wrote it itself (a like from the API, with
the event's time), or else the time of the first bulk extraction that found it. Times are kept in our own
database (``GraphSighting``), one row per person and content type, and survive MusicBud's re-imports,
which delete and recreate a user's edges: an edge is (person, item, kind), not a relationship id.

What follows from it, and is documented in docs/data-model.md: on the first extraction of an existing
graph every edge has the same time (popularity is then a plain weighted count, and model selection splits
at random because there is no time to cut at); edges that appear later are later, so recency-weighted
popularity, trending and the time-based validation split work from the second extraction on.

An edge is coded as ``item rank * 8 + kind`` (ranks are ``ordering.item_ranks``: exact, below 2**38 for
every valid id), and a person is a dense index of the extraction; ``(person << 41) | code`` is one sortable
int64 per edge, so looking up a million edges is one ``searchsorted``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.db import transaction

from ..domain import ContentType
from ..models import GraphSighting
from .ordering import item_ranks

_CODE_BITS = 41
# 2**22 people per extraction; a graph with more fails loudly rather than mixing people's edges up.
MAX_PEOPLE = 2 ** (63 - _CODE_BITS)
Int64s = npt.NDArray[np.int64]


def edge_codes(ct: ContentType, item_ids: npt.NDArray[np.str_], kinds: npt.NDArray[np.int8]) -> Int64s:
    if item_ids.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    codes: Int64s = item_ranks(ct, item_ids) * 8 + kinds.astype(np.int64)
    return codes


def _decode(raw: bytes | memoryview) -> Int64s:
    return np.frombuffer(bytes(raw), dtype="<i8").astype(np.int64)


def _encode(values: Int64s) -> bytes:
    return values.astype("<i8").tobytes()


@dataclass(frozen=True)
class PersonSightings:
    codes: Int64s  # sorted
    first_seen: Int64s

    def lookup(self, codes: Int64s) -> tuple[Int64s, npt.NDArray[np.bool_]]:
        """(first-seen time, found) of each code; 0 where not found."""
        return _search(self.codes, self.first_seen, codes)

    def merged(self, codes: Int64s, times: Int64s) -> PersonSightings:
        """These sightings plus new codes (a code already here keeps its first time)."""
        new = ~np.isin(codes, self.codes)
        codes, index = np.unique(codes[new], return_index=True)
        all_codes = np.concatenate([self.codes, codes])
        all_times = np.concatenate([self.first_seen, times[new][index]])
        order = np.argsort(all_codes, kind="stable")
        return PersonSightings(all_codes[order], all_times[order])


_NONE = PersonSightings(np.empty(0, np.int64), np.empty(0, np.int64))


def _search(keys: Int64s, times: Int64s, wanted: Int64s) -> tuple[Int64s, npt.NDArray[np.bool_]]:
    if keys.shape[0] == 0:
        return np.zeros(wanted.shape[0], np.int64), np.zeros(wanted.shape[0], bool)
    at = np.minimum(np.searchsorted(keys, wanted), keys.shape[0] - 1)
    found = keys[at] == wanted
    return np.where(found, times[at], 0), found


def person_sightings(namespace: str, ct: ContentType, people: Sequence[str]) -> dict[str, PersonSightings]:
    """The sightings of some people (a user's history: usually one)."""
    rows = GraphSighting.objects.filter(namespace=namespace, content_type=ct.value, person__in=list(people))
    return {
        person: PersonSightings(_decode(codes), _decode(first_seen))
        for person, codes, first_seen in rows.values_list("person", "codes", "first_seen")
    }


class SightingIndex:
    """Every first-seen time of one graph's content type, for the people of one extraction."""

    def __init__(self, namespace: str, ct: ContentType, people: Sequence[str]) -> None:
        if len(people) > MAX_PEOPLE:
            raise ValueError(f"{len(people)} people in one extraction; first-seen times support {MAX_PEOPLE}.")
        self.namespace, self.ct = namespace, ct
        self.people = list(people)
        index = {person: n for n, person in enumerate(self.people)}
        rows = GraphSighting.objects.filter(namespace=namespace, content_type=ct.value)
        self.stored: dict[int, PersonSightings] = {}
        for person, codes, first_seen in rows.values_list("person", "codes", "first_seen"):
            if person in index:  # people no longer in the graph keep their row, unread
                self.stored[index[person]] = PersonSightings(_decode(codes), _decode(first_seen))
        parts = [(n, s) for n, s in self.stored.items() if s.codes.shape[0]]
        keys = np.concatenate([(np.int64(n) << _CODE_BITS) | s.codes for n, s in parts]) if parts else _NONE.codes
        times = np.concatenate([s.first_seen for _, s in parts]) if parts else _NONE.first_seen
        order = np.argsort(keys, kind="stable")
        self.keys, self.times = keys[order], times[order]

    def lookup(self, people: Int64s, codes: Int64s) -> tuple[Int64s, npt.NDArray[np.bool_]]:
        """(first-seen time, found) of each (person index, code)."""
        return _search(self.keys, self.times, (people << _CODE_BITS) | codes)

    def record(self, people: Int64s, codes: Int64s, at: Int64s) -> int:
        """Store edges first seen at ``at`` (each edge's time); returns how many people's rows changed."""
        changed: list[GraphSighting] = []
        order = np.argsort(people, kind="stable")
        people, codes, at = people[order], codes[order], at[order]
        bounds = np.flatnonzero(np.r_[True, people[1:] != people[:-1], True]).tolist() if people.shape[0] else []
        for start, end in itertools.pairwise(bounds):
            person = int(people[start])
            before = self.stored.get(person, _NONE)
            after = before.merged(codes[start:end], at[start:end])
            self.stored[person] = after
            if after.codes.shape[0] != before.codes.shape[0]:
                changed.append(_row(self.namespace, self.ct, self.people[person], after))
        _save(changed)
        return len(changed)


def _row(namespace: str, ct: ContentType, person: str, sightings: PersonSightings) -> GraphSighting:
    return GraphSighting(
        namespace=namespace, content_type=ct.value, person=person,
        codes=_encode(sightings.codes), first_seen=_encode(sightings.first_seen),
    )  # fmt: skip


def _save(rows: list[GraphSighting]) -> None:
    # A write of the API may add to a person's row between our read and this upsert: its sighting is then
    # lost and the edge is first seen by the next extraction instead (later, never wrong by more than that).
    if rows:
        GraphSighting.objects.bulk_create(
            rows,
            batch_size=1_000,
            update_conflicts=True,
            unique_fields=["namespace", "content_type", "person"],
            update_fields=["codes", "first_seen"],
        )


def record_written(namespace: str, ct: ContentType, person: str, *, code: int, at: int) -> None:
    """An edge this service wrote for one person (the API's like), first seen at its own time."""
    codes, times = np.asarray([code], dtype=np.int64), np.asarray([at], dtype=np.int64)
    with transaction.atomic():
        row = (
            GraphSighting.objects.select_for_update()
            .filter(namespace=namespace, content_type=ct.value, person=person)
            .values_list("codes", "first_seen")
            .first()
        )
        before = PersonSightings(_decode(row[0]), _decode(row[1])) if row else _NONE
        after = before.merged(codes, times)
        if after.codes.shape[0] != before.codes.shape[0]:
            _save([_row(namespace, ct, person, after)])
