"""Fixtures of the data-service tests: both backends, filled with the same synthetic data.

The Neo4j server is shared with other people's tests, so every graph fixture works under its own label
prefix (``Test<random>User``, ``Test<random>Movie``…) and deletes exactly those nodes and constraints
afterwards; the unprefixed graph is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np
import pytest

from musicbud import graph
from recommendations.data.graph_profiles import MUSICBUD, NATIVE, GraphProfile
from recommendations.data.loading import write_dataset
from recommendations.data.musicbud_seeding import seed_musicbud_graph
from recommendations.data.neo4j_accounts import AccountGraphStore
from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.data.neo4j_store import graph_store as make_graph_store
from recommendations.data.orm_store import OrmInteractionStore
from recommendations.data.seeding import SeedSpec, generate_content
from recommendations.data.store import InteractionStore
from recommendations.domain import ContentType, InteractionArrays

SMALL_SPEC = SeedSpec(
    users=40,
    items={ContentType.MOVIES: 60, ContentType.MANGA: 25, ContentType.ANIME: 40},
    seed=7,
    interactions_per_user=12,
    months=6,
)


def seed(store: InteractionStore, spec: SeedSpec = SMALL_SPEC) -> None:
    store.ensure_schema()
    for ct in ContentType:
        write_dataset(store, generate_content(spec, ct), batch_size=300, progress=False)


def assert_same_arrays(left: InteractionArrays, right: InteractionArrays) -> None:
    np.testing.assert_array_equal(left.user_ids, right.user_ids)
    np.testing.assert_array_equal(left.item_ids, right.item_ids)
    np.testing.assert_array_equal(left.kinds, right.kinds)
    np.testing.assert_array_equal(left.values, right.values)  # NaN == NaN here
    np.testing.assert_array_equal(left.timestamps, right.timestamps)
    assert left.user_ids.dtype == right.user_ids.dtype == np.int64
    assert left.kinds.dtype == right.kinds.dtype == np.int8
    assert left.values.dtype == right.values.dtype == np.float32
    assert left.item_ids.dtype.kind == right.item_ids.dtype.kind == "U"


def new_graph_store(profile: GraphProfile = NATIVE) -> Neo4jInteractionStore:
    return make_graph_store(GraphLabels(f"Test{uuid.uuid4().hex[:12]}", profile))


def wipe(store: Neo4jInteractionStore) -> None:
    drop_prefixed_graph(graph.get_driver(), store.labels)


@pytest.fixture
def graph_store(neo4j_settings: None) -> Iterator[Neo4jInteractionStore]:
    """An empty graph of its own (label prefix), with its constraints; wiped afterwards."""
    store = new_graph_store()
    store.ensure_schema()
    try:
        yield store
    finally:
        wipe(store)


def module_graph(profile: GraphProfile, fill: Callable[[Neo4jInteractionStore], object]) -> Iterator[Any]:
    """A graph of its own for a whole module (filled once: seeding takes a moment), wiped afterwards."""
    from django.conf import settings

    from tests.conftest import require_service

    require_service("Neo4j", bool(settings.NEO4J_URI))
    store = new_graph_store(profile)
    try:
        fill(store)
        yield store
    finally:
        wipe(store)


@pytest.fixture(scope="module")
def seeded_graph_store() -> Iterator[Neo4jInteractionStore]:
    """SMALL_SPEC in a graph of its own, shared by a module's read-only tests."""
    yield from module_graph(NATIVE, seed)


@pytest.fixture
def musicbud_store(neo4j_settings: None, db: None) -> Iterator[AccountGraphStore]:
    """An empty MusicBud-shaped graph of its own (its first-seen times and own rows in the test database)."""
    store = new_graph_store(MUSICBUD)
    assert isinstance(store, AccountGraphStore)
    store.ensure_schema()
    try:
        yield store
    finally:
        wipe(store)


@pytest.fixture(scope="module")
def seeded_musicbud_store() -> Iterator[AccountGraphStore]:
    """SMALL_SPEC in MusicBud's shape (people, accounts, edges without properties), shared by a module.

    Only the graph is written here (what MusicBud's backend would hold): nothing in our database.
    """

    def fill(store: Neo4jInteractionStore) -> None:
        assert isinstance(store, AccountGraphStore)
        seed_musicbud_graph(store, SMALL_SPEC, progress=False)

    yield from module_graph(MUSICBUD, fill)


@pytest.fixture
def orm_store(db: None) -> OrmInteractionStore:
    return OrmInteractionStore()


@pytest.fixture
def seeded_orm_store(orm_store: OrmInteractionStore) -> OrmInteractionStore:
    seed(orm_store)
    return orm_store


@pytest.fixture
async def close_async_driver() -> AsyncIterator[None]:
    """The async driver belongs to the test's event loop: close it before the loop goes away."""
    yield
    await graph.close_async_driver()


def add_people(store: AccountGraphStore, user_ids: list[int]) -> None:
    """Django users with these ids, each with a person of the same username in the MusicBud graph."""
    from django.contrib.auth import get_user_model

    from recommendations.data.neo4j_accounts import SeedPerson, write_people

    for user_id in user_ids:
        get_user_model().objects.create_user(id=user_id, username=f"person{user_id}", password="x-unused-1")
    write_people(
        store,
        [SeedPerson(uuid.uuid4().hex, f"person{user_id}", f"person{user_id}@example.com", None, None, None)
         for user_id in user_ids],
    )  # fmt: skip


@pytest.fixture(params=["orm", "native", "musicbud"])
def any_store(request: pytest.FixtureRequest) -> InteractionStore:
    """Each test runs against the built-in store and Neo4j with each graph profile (users 1-9 exist)."""
    name = {"orm": "orm_store", "native": "graph_store", "musicbud": "musicbud_store"}[request.param]
    store: InteractionStore = request.getfixturevalue(name)
    if isinstance(store, AccountGraphStore):
        add_people(store, list(range(1, 10)))
    return store
