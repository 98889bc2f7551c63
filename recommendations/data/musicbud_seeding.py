"""Synthetic data in the exact shape of MusicBud's graph (``manage.py seed_recommendations --graph-profile musicbud``).

The same synthetic tastes as ``seeding.py``, written as MusicBud's backend would have written them: a
``ParentUser`` per person (username ``fan<n>``), an ``ImdbUser`` and a ``MalUser:User`` account each, and
edges without properties. What MusicBud's graph cannot hold is dropped: dislikes, ratings' scores, ranks,
times. A MAL list is one edge type, so every anime or manga a person has is one ``TOP_ANIME`` /
``TOP_MANGA`` edge. With ``first_importer_only`` the MAL quirk of MusicBud's importer is reproduced: it
connects an anime or manga only for the first user who imported it (users import in id order), so each
item has at most one edge.

Deterministic: the same spec writes the same people (uids derived from the user number) and edges, and
every write is a MERGE, so seeding twice adds nothing. ``after_existing_people`` places a spec after the
people and items the graph has (what ``seed_recommendations`` does unless ``--replace``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import numpy as np
from tqdm import tqdm

from ..domain import ContentType, InteractionArrays, InteractionKind
from .arrays import take
from .loading import WRITE_BATCH
from .neo4j_accounts import AccountGraphStore, SeedPerson, write_people
from .seeding import SeedReport, SeedSpec, generate_content, next_item_numbers

_UIDS = uuid.UUID("6d0f3c52-4f0e-4d55-9a8e-3b1f1f3c7a10")  # namespace of the seeded people's uids
MAL_ID_BASE = 9_000_000  # seeded MyAnimeList user ids: fan n is MAL user 9,000,000 + n


def seed_username(user_number: int) -> str:
    return f"fan{user_number}"


def seed_person(user_number: int) -> SeedPerson:
    def uid(kind: str) -> str:
        return uuid.uuid5(_UIDS, f"{kind}:{user_number}").hex

    return SeedPerson(
        uid=uid("person"), username=seed_username(user_number), email=f"fan{user_number}@example.com",
        imdb_user_id=f"ur{90_000_000 + user_number}", mal_uid=uid("mal"), mal_user_id=MAL_ID_BASE + user_number,
    )  # fmt: skip


def next_person_number(store: AccountGraphStore) -> int:
    """The number after every seeded person (``fan<n>``) in the graph: new people never overwrite seeded ones."""
    (record,) = store._read(
        f"MATCH (p:`{store.labels.user}`) WHERE p.username =~ 'fan[0-9]+' "
        "RETURN max(toInteger(substring(p.username, 3))) AS top"
    )
    return int(record["top"] or 0) + 1


def after_existing_people(store: AccountGraphStore, spec: SeedSpec) -> SeedSpec:
    """The spec moved after what the graph has: people after the seeded ones, items after the synthetic ones."""
    types = [ct for ct, n in spec.items.items() if n]
    return replace(spec, first_user_id=next_person_number(store), first_item=next_item_numbers(store, types))


def musicbud_edges(ct: ContentType, arrays: InteractionArrays, *, first_importer_only: bool) -> InteractionArrays:
    """The generated interactions MusicBud's graph can hold, as the kinds its edges read back as."""
    keep = arrays.kinds != InteractionKind.DISLIKED
    edges = take(arrays, np.flatnonzero(keep))
    if ct is ContentType.MOVIES:
        return edges
    edges = InteractionArrays(
        user_ids=edges.user_ids, item_ids=edges.item_ids,
        kinds=np.full(len(edges), InteractionKind.TOP_LIST, dtype=np.int8),
        values=np.full(len(edges), 1.0, dtype=np.float32), timestamps=edges.timestamps,
    )  # fmt: skip
    if first_importer_only and len(edges):
        order = np.lexsort((edges.user_ids, edges.item_ids))
        first = order[np.r_[True, edges.item_ids[order][1:] != edges.item_ids[order][:-1]]]
        edges = take(edges, np.sort(first))
    return edges


def seed_musicbud_graph(
    store: AccountGraphStore, spec: SeedSpec, *, first_importer_only: bool = False, progress: bool = True
) -> SeedReport:
    started = time.perf_counter()
    store.ensure_schema()
    numbers = range(spec.first_user_id, spec.first_user_id + spec.users)
    people = {n: seed_person(n) for n in numbers}
    write_people(store, list(people.values()))
    report = SeedReport()
    for ct in ContentType:
        if not spec.items.get(ct):
            continue
        content = generate_content(spec, ct)
        store.upsert_catalog(ct, content.catalog)
        edges = musicbud_edges(ct, content.interactions, first_importer_only=first_importer_only)
        persons = np.asarray([people[n].uid for n in edges.user_ids.tolist()], dtype=np.str_)
        with tqdm(total=len(edges), unit="edges", desc=ct.value, disable=not progress) as bar:
            for start in range(0, len(edges), WRITE_BATCH):
                rows = slice(start, start + WRITE_BATCH)
                store.write_edges(ct, persons[rows], edges.item_ids[rows], edges.kinds[rows])
                bar.update(persons[rows].shape[0])
        report.items[ct], report.interactions[ct] = len(content.catalog), len(edges)
    report.seconds = time.perf_counter() - started
    return report
