"""Removing an interaction and forgetting a user: the store's delete primitives, in every backend and profile."""

from __future__ import annotations

import pytest

from recommendations.data.store import InteractionStore
from recommendations.domain import CatalogItem, InteractionKind
from recommendations.errors import InvalidInteraction, InvalidItemId

pytestmark = pytest.mark.django_db
CATALOG = [CatalogItem("tt0000001", "One", ("Drama",), 2001), CatalogItem("tt0000002", "Two", ("Comedy",))]
ANIME = [CatalogItem("21", "Anime", ("Action",))]


@pytest.fixture
def store(any_store: InteractionStore) -> InteractionStore:
    """The built-in store and Neo4j with each graph profile (users 1-9 exist)."""
    any_store.upsert_catalog("movies", CATALOG)
    any_store.upsert_catalog("anime", ANIME)
    return any_store


def record(store: InteractionStore, user_id: int, item_id: str, kind: InteractionKind, ct: str = "movies") -> None:
    value = 3.0 if kind in (InteractionKind.RATED, InteractionKind.TOP_LIST) else None
    store.record_interaction(user_id=user_id, content_type=ct, item_id=item_id, kind=kind, value=value, timestamp=10)


def test_deleting_removes_only_that_kind_of_that_item_of_that_user(store: InteractionStore) -> None:
    record(store, 7, "tt0000001", InteractionKind.LIKED)
    record(store, 7, "tt0000001", InteractionKind.WATCHED)
    record(store, 7, "tt0000002", InteractionKind.LIKED)
    record(store, 8, "tt0000001", InteractionKind.LIKED)

    assert store.delete_interaction(user_id=7, content_type="movies", item_id="tt0000001", kind=InteractionKind.LIKED)

    mine = store.user_history("movies", 7)
    assert list(zip(mine.item_ids.tolist(), mine.kinds.tolist(), strict=True)) == [
        ("tt0000001", InteractionKind.WATCHED),
        ("tt0000002", InteractionKind.LIKED),
    ]
    assert store.user_history("movies", 8).kinds.tolist() == [InteractionKind.LIKED]


def test_deleting_what_is_not_there_is_a_no_op(store: InteractionStore) -> None:
    record(store, 7, "tt0000001", InteractionKind.WATCHLIST)

    def remove() -> bool:
        return store.delete_interaction(user_id=7, content_type="movies", item_id="tt0000001", kind=3)

    assert remove() is True
    assert remove() is False
    assert store.delete_interaction(user_id=99, content_type="movies", item_id="tt0000002", kind=1) is False
    assert len(store.user_history("movies", 7)) == 0


def test_a_delete_is_validated_like_a_write(store: InteractionStore) -> None:
    with pytest.raises(InvalidItemId):
        store.delete_interaction(user_id=7, content_type="movies", item_id="nope", kind=InteractionKind.LIKED)
    with pytest.raises(InvalidInteraction):
        # Movies have no top lists.
        store.delete_interaction(user_id=7, content_type="movies", item_id="tt0000001", kind=InteractionKind.TOP_LIST)


def test_forgetting_a_user_deletes_all_their_interactions_of_every_type_and_nobody_elses(
    store: InteractionStore,
) -> None:
    record(store, 7, "tt0000001", InteractionKind.LIKED)
    record(store, 7, "tt0000002", InteractionKind.RATED)
    record(store, 7, "21", InteractionKind.TOP_LIST, ct="anime")
    record(store, 8, "tt0000001", InteractionKind.LIKED)

    assert store.forget_user(7) == 3

    assert len(store.user_history("movies", 7)) == 0
    assert len(store.user_history("anime", 7)) == 0
    assert len(store.user_history("movies", 8)) == 1
    assert store.forget_user(7) == 0
