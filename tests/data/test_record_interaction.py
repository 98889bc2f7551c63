"""Recording an interaction: one per (user, item, kind), re-recording updates it, in both backends."""

from __future__ import annotations

import numpy as np
import pytest
from asgiref.sync import sync_to_async

from recommendations.data.neo4j_accounts import AccountGraphStore
from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.data.orm_store import OrmInteractionStore
from recommendations.data.store import InteractionStore
from recommendations.domain import CatalogItem, InteractionArrays, InteractionKind
from recommendations.errors import ItemNotFound

from .conftest import add_people, assert_same_arrays

pytestmark = pytest.mark.django_db
CATALOG = [CatalogItem("tt0000001", "One", ("Drama",), 2001), CatalogItem("tt0000002", "Two", ("Comedy",))]


@pytest.fixture
def store(any_store: InteractionStore) -> InteractionStore:
    any_store.upsert_catalog("movies", CATALOG)
    return any_store


def first_seen(store: InteractionStore) -> bool:
    """Whether the store's times are first-seen times (MusicBud's graph), not the latest recorded."""
    return isinstance(store, AccountGraphStore)


def test_recording_again_updates_the_value_and_timestamp_instead_of_duplicating(store: InteractionStore) -> None:
    store.record_interaction(user_id=7, content_type="movies", item_id="tt0000001", kind=6, value=2.0, timestamp=100)
    store.record_interaction(user_id=7, content_type="movies", item_id="tt0000001", kind=6, value=5.0, timestamp=200)
    store.record_interaction(user_id=7, content_type="movies", item_id="tt0000001", kind=1, timestamp=150)
    history = store.user_history("movies", 7)
    assert history.kinds.tolist() == [InteractionKind.LIKED, InteractionKind.RATED]
    # MusicBud's graph keeps no score (a rating reads as the top of the scale) and no time (first seen).
    assert history.timestamps.tolist() == ([150, 100] if first_seen(store) else [150, 200])
    expected = [np.nan, 10.0] if first_seen(store) else [np.nan, 5.0]
    np.testing.assert_array_equal(history.values, np.array(expected, dtype=np.float32))
    assert len(store.all_interactions("movies")) == 2


def test_recording_on_an_item_outside_the_catalog_is_item_not_found(store: InteractionStore) -> None:
    with pytest.raises(ItemNotFound) as caught:
        store.record_interaction(user_id=7, content_type="movies", item_id="tt0000003", kind=InteractionKind.LIKED)
    assert caught.value.code == "item_not_found"
    assert len(store.all_interactions("movies")) == 0


def test_the_timestamp_defaults_to_now(store: InteractionStore) -> None:
    import time

    before = int(time.time())
    store.record_interaction(user_id=7, content_type="movies", item_id="tt0000002", kind=InteractionKind.WATCHLIST)
    assert before <= int(store.user_history("movies", 7).timestamps[0]) <= int(time.time())


def test_bulk_writes_keep_the_last_row_of_a_repeated_key(store: InteractionStore) -> None:
    rows = InteractionArrays(
        user_ids=np.array([1, 1, 2], dtype=np.int64),
        item_ids=np.array(["tt0000001", "tt0000001", "tt0000002"]),
        kinds=np.array([6, 6, 4], dtype=np.int8),
        values=np.array([1.0, 4.0, np.nan], dtype=np.float32),
        timestamps=np.array([10, 20, 30], dtype=np.int64),
    )
    assert store.write_interactions("movies", rows) == 2
    assert store.write_interactions("movies", rows) == 2
    stored = store.all_interactions("movies")
    assert stored.values[0] == (10.0 if first_seen(store) else 4.0)
    assert stored.timestamps.tolist() == [20, 30]  # (the dislike is kept in our database: exact)


def test_a_bulk_write_with_an_unknown_item_writes_nothing(store: InteractionStore) -> None:
    rows = InteractionArrays(
        user_ids=np.array([1, 1], dtype=np.int64),
        item_ids=np.array(["tt0000001", "tt0000009"]),
        kinds=np.array([1, 1], dtype=np.int8),
        values=np.array([np.nan, np.nan], dtype=np.float32),
        timestamps=np.array([10, 20], dtype=np.int64),
    )
    with pytest.raises(ItemNotFound) as caught:
        store.write_interactions("movies", rows)
    assert caught.value.details["item_ids"] == ["tt0000009"]
    assert len(store.all_interactions("movies")) == 0


@pytest.mark.django_db(transaction=True)
# (The root conftest closes the async ORM thread's connections after every test.)
@pytest.mark.usefixtures("close_async_driver")
async def test_async_recording_has_the_same_semantics_in_every_backend(
    orm_store: OrmInteractionStore, graph_store: Neo4jInteractionStore, musicbud_store: AccountGraphStore
) -> None:
    await sync_to_async(add_people)(musicbud_store, [3])
    for store in (orm_store, graph_store, musicbud_store):
        await sync_to_async(store.upsert_catalog)("anime", [CatalogItem("21", "One Piece", ("Action",))])
        await store.arecord_interaction(user_id=3, content_type="anime", item_id="21", kind=5, value=2, timestamp=9)
        await store.arecord_interaction(user_id=3, content_type="anime", item_id="21", kind=5, value=1, timestamp=10)
        with pytest.raises(ItemNotFound):
            await store.arecord_interaction(user_id=3, content_type="anime", item_id="22", kind=4)
    orm_history = await orm_store.auser_history("anime", 3)
    assert orm_history.values.tolist() == [1.0]
    assert orm_history.timestamps.tolist() == [10]
    assert_same_arrays(orm_history, await graph_store.auser_history("anime", 3))
    # MusicBud's graph: no rank (rank 1) and the first time it was written.
    musicbud = await musicbud_store.auser_history("anime", 3)
    assert (musicbud.kinds.tolist(), musicbud.values.tolist(), musicbud.timestamps.tolist()) == ([5], [1.0], [9])


def test_a_like_in_musicbuds_graph_is_an_edge_from_the_persons_account_created_as_its_model_would(
    musicbud_store: AccountGraphStore,
) -> None:
    from musicbud import graph

    add_people(musicbud_store, [4])
    musicbud_store.upsert_catalog("movies", CATALOG)
    musicbud_store.upsert_catalog("anime", [CatalogItem("21", "One Piece", ("Action",))])
    musicbud_store.record_interaction(user_id=4, content_type="movies", item_id="tt0000001", kind=1, timestamp=5)
    musicbud_store.record_interaction(user_id=4, content_type="movies", item_id="tt0000002", kind=1, timestamp=6)
    musicbud_store.record_interaction(user_id=4, content_type="anime", item_id="21", kind=1, timestamp=7)
    musicbud_store.record_interaction(user_id=4, content_type="movies", item_id="tt0000002", kind=4, timestamp=8)
    p = musicbud_store.labels.prefix
    records = (
        graph.get_driver()
        .execute_query(
            f"MATCH (:`{p}ParentUser` {{username: 'person4'}})-[link]->(a)-[r]->(m) "
            "RETURN type(link) AS link, labels(a) AS labels, properties(a) AS account, type(r) AS rel, "
            "properties(r) AS props, coalesce(m.imdb_id, toString(m.anime_id)) AS key ORDER BY key"
        )
        .records
    )
    assert [(r["link"], r["rel"], r["key"], r["props"]) for r in records] == [
        ("CONNECTED_TO_IMDB", "LIKES", "0000001", {}),
        ("CONNECTED_TO_IMDB", "LIKES", "0000002", {}),
        ("CONNECTED_TO_MAL", "TOP_ANIME", "21", {}),
    ]
    imdb, mal = records[0], records[2]
    assert records[1]["account"] == imdb["account"]  # one account per person and service
    assert set(imdb["account"]) == {"user_id", "username", "email"}
    assert imdb["account"]["username"] == "person4"
    assert set(mal["labels"]) == {f"{p}MalUser", f"{p}User"}
    assert mal["account"]["name"] == "person4"
    assert mal["account"]["service"] == "mal"
    assert len(mal["account"]["uid"]) == 32
    history = musicbud_store.user_history("movies", 4)
    assert list(zip(history.item_ids.tolist(), history.kinds.tolist(), history.timestamps.tolist(), strict=True)) == [
        ("tt0000001", 1, 5), ("tt0000002", 1, 6), ("tt0000002", 4, 8),
    ]  # fmt: skip


def test_a_write_for_a_user_without_a_person_is_person_not_found(musicbud_store: AccountGraphStore) -> None:
    from django.contrib.auth import get_user_model

    from recommendations.errors import PersonNotFound

    musicbud_store.upsert_catalog("movies", CATALOG)
    get_user_model().objects.create_user(id=11, username="no-person", password="x-unused-1")
    for user_id in (11, 12):  # a Django user without a person; no Django user at all
        with pytest.raises(PersonNotFound) as caught:
            musicbud_store.record_interaction(user_id=user_id, content_type="movies", item_id="tt0000001", kind=1)
        assert caught.value.code == "person_not_found"
    assert len(musicbud_store.all_interactions("movies")) == 0


class _BlindToExistingUsers(Neo4jInteractionStore):
    """Sees no user as existing: what a bulk write sees when another writer creates its users meanwhile."""

    def _existing_users(self, user_ids: list[int]) -> list[int]:
        return []


def test_a_bulk_write_whose_users_appeared_meanwhile_upserts_instead_of_duplicating(
    graph_store: Neo4jInteractionStore,
) -> None:
    graph_store.upsert_catalog("movies", CATALOG)
    graph_store.record_interaction(user_id=1, content_type="movies", item_id="tt0000001", kind=6, value=2.0)
    racing = _BlindToExistingUsers(graph_store.labels)
    rows = InteractionArrays(
        user_ids=np.array([1, 1, 2], dtype=np.int64),
        item_ids=np.array(["tt0000001", "tt0000002", "tt0000002"]),
        kinds=np.array([6, 1, 1], dtype=np.int8),
        values=np.array([4.0, np.nan, np.nan], dtype=np.float32),
        timestamps=np.array([10, 20, 30], dtype=np.int64),
    )
    assert racing.write_interactions("movies", rows) == 3
    stored = graph_store.all_interactions("movies")
    assert list(zip(stored.user_ids.tolist(), stored.item_ids.tolist(), stored.kinds.tolist(), strict=True)) == [
        (1, "tt0000001", 6),
        (1, "tt0000002", 1),
        (2, "tt0000002", 1),
    ]
    assert stored.values[0] == 4.0
    assert stored.timestamps.tolist() == [10, 20, 30]
