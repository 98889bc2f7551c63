"""The two backends are interchangeable: the same data gives identical arrays, catalogs and rankings."""

from __future__ import annotations

import numpy as np
import pytest
from asgiref.sync import sync_to_async

from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.data.orm_store import OrmInteractionStore
from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType, InteractionArrays, ScoredItem
from recommendations.engine.config import EngineConfig
from recommendations.engine.popularity import POPULAR_WINDOW_DAYS, popularity_scores, trending_scores

from .conftest import SMALL_SPEC, assert_same_arrays, seed

pytestmark = pytest.mark.django_db
CONTENT_TYPES = list(ContentType)


@pytest.mark.parametrize("ct", CONTENT_TYPES)
def test_all_interactions_are_identical_arrays_in_both_backends(
    ct: ContentType, seeded_orm_store: OrmInteractionStore, seeded_graph_store: Neo4jInteractionStore
) -> None:
    from_graph = seeded_graph_store.all_interactions(ct)
    assert len(from_graph) == len(generate_content(SMALL_SPEC, ct).interactions) > 0
    assert_same_arrays(seeded_orm_store.all_interactions(ct), from_graph)


@pytest.mark.parametrize("ct", CONTENT_TYPES)
def test_batches_are_identical_and_hold_whole_items(
    ct: ContentType, seeded_orm_store: OrmInteractionStore, seeded_graph_store: Neo4jInteractionStore
) -> None:
    orm_batches = list(seeded_orm_store.iter_interactions(ct, batch_size=50))
    graph_batches = list(seeded_graph_store.iter_interactions(ct, batch_size=50))
    assert len(orm_batches) == len(graph_batches) > 1
    for orm_batch, graph_batch in zip(orm_batches, graph_batches, strict=True):
        assert_same_arrays(orm_batch, graph_batch)
    seen_items: set[str] = set()
    for batch in graph_batches:
        items = set(batch.item_ids.tolist())
        assert not items & seen_items  # an item's rows are never split over two batches
        seen_items |= items
    assert_same_arrays(InteractionArrays.concat(graph_batches), seeded_graph_store.all_interactions(ct))


def _rows(a: InteractionArrays) -> list[tuple[int, str, int, int]]:
    return sorted(zip(a.user_ids.tolist(), a.item_ids.tolist(), a.kinds.tolist(), a.timestamps.tolist(), strict=True))


def test_the_stored_data_is_the_generated_data(seeded_graph_store: Neo4jInteractionStore) -> None:
    generated = generate_content(SMALL_SPEC, ContentType.ANIME).interactions
    stored = seeded_graph_store.all_interactions(ContentType.ANIME)
    assert _rows(stored) == _rows(generated)
    np.testing.assert_array_equal(np.sort(stored.values), np.sort(generated.values))


@pytest.mark.parametrize("ct", CONTENT_TYPES)
def test_catalogs_are_identical(
    ct: ContentType, seeded_orm_store: OrmInteractionStore, seeded_graph_store: Neo4jInteractionStore
) -> None:
    catalog = seeded_graph_store.catalog(ct)
    assert catalog == seeded_orm_store.catalog(ct)
    assert [item.item_id for item in catalog] == [item.item_id for item in generate_content(SMALL_SPEC, ct).catalog]
    some = [catalog[3].item_id, catalog[0].item_id]
    assert seeded_graph_store.catalog_items(ct, some) == seeded_orm_store.catalog_items(ct, some)
    assert set(seeded_graph_store.catalog_items(ct, some)) == set(some)


@pytest.mark.parametrize("ct", CONTENT_TYPES)
def test_user_histories_are_identical(
    ct: ContentType, seeded_orm_store: OrmInteractionStore, seeded_graph_store: Neo4jInteractionStore
) -> None:
    for user_id in (1, 2, 17, SMALL_SPEC.users):
        history = seeded_graph_store.user_history(ct, user_id)
        assert len(history) > 0
        assert set(history.user_ids.tolist()) == {user_id}
        assert_same_arrays(seeded_orm_store.user_history(ct, user_id), history)
    assert len(seeded_graph_store.user_history(ct, 999_999)) == 0


@pytest.mark.parametrize("ct", CONTENT_TYPES)
def test_popular_and_trending_items_are_identical(
    ct: ContentType, seeded_orm_store: OrmInteractionStore, seeded_graph_store: Neo4jInteractionStore
) -> None:
    popular = seeded_graph_store.popular_items(ct, limit=15)
    assert len(popular) == 15
    assert popular == seeded_orm_store.popular_items(ct, limit=15)  # scores equal to the last bit
    assert [p.score for p in popular] == sorted((p.score for p in popular), reverse=True)

    trending = seeded_graph_store.trending_items(ct, limit=10, recent_days=14, baseline_days=120)
    assert trending
    assert trending == seeded_orm_store.trending_items(ct, limit=10, recent_days=14, baseline_days=120)

    earlier = SMALL_SPEC.end_timestamp - 60 * 86_400
    assert seeded_graph_store.popular_items(ct, now=earlier, window_days=30) == seeded_orm_store.popular_items(
        ct, now=earlier, window_days=30
    )


@pytest.mark.parametrize("ct", CONTENT_TYPES)
def test_the_model_computes_the_same_popular_and_trending_lists_as_the_data_service(
    ct: ContentType, seeded_orm_store: OrmInteractionStore
) -> None:
    arrays = seeded_orm_store.all_interactions(ct)
    item_ids, items = np.unique(arrays.item_ids, return_inverse=True)
    model_trending = trending_scores(items, arrays.kinds, arrays.timestamps, len(item_ids))

    def as_model_stores_them(ranked: list[ScoredItem]) -> list[tuple[str, float]]:
        return [(r.item_id, float(np.float32(r.score))) for r in ranked]

    def model_list(scores: np.ndarray, n: int) -> list[tuple[str, float]]:
        order = np.lexsort((item_ids, -scores))[:n]  # ties by id, as the data service breaks them
        return [(str(item_ids[i]), float(scores[i])) for i in order]

    # Without a model the data service serves its default window, the first one selection tries;
    # with a model, cold users get the window selection chose, which the data service computes alike.
    windows = EngineConfig().popularity_windows_days
    assert windows[0] == POPULAR_WINDOW_DAYS
    default = seeded_orm_store.popular_items(ct, limit=1000)
    model_default = popularity_scores(items, arrays.kinds, arrays.timestamps, len(item_ids))
    assert model_list(model_default, len(default)) == as_model_stores_them(default)
    for window in windows:
        popular = seeded_orm_store.popular_items(ct, limit=1000, window_days=window)
        assert popular
        model_popularity = popularity_scores(items, arrays.kinds, arrays.timestamps, len(item_ids), window_days=window)
        assert model_list(model_popularity, len(popular)) == as_model_stores_them(popular), window
    # (Items with nothing in the window, which the data service leaves out, form the model's tail:
    # tests/engine/test_popularity.py.)

    trending = seeded_orm_store.trending_items(ct, limit=1000)
    assert trending
    assert model_list(model_trending, len(trending)) == as_model_stores_them(trending)
    assert np.count_nonzero(model_trending) == len(trending)


@pytest.mark.django_db(transaction=True)
# (The root conftest closes the async ORM thread's connections after every test.)
@pytest.mark.usefixtures("close_async_driver")
async def test_async_reads_match_the_sync_reads_in_both_backends(
    orm_store: OrmInteractionStore, seeded_graph_store: Neo4jInteractionStore
) -> None:
    await sync_to_async(seed)(orm_store)
    ct = ContentType.MANGA
    ids = ["800000003", "800000001", "1"]  # the last one is not in the catalog
    for store in (orm_store, seeded_graph_store):
        assert_same_arrays(await store.auser_history(ct, 5), await sync_to_async(store.user_history)(ct, 5))
        assert await store.apopular_items(ct, limit=5) == await sync_to_async(store.popular_items)(ct, limit=5)
        items = await store.acatalog_items(ct, ids)
        assert sorted(items) == ["800000001", "800000003"]
    assert await orm_store.acatalog_items(ct, ids) == await seeded_graph_store.acatalog_items(ct, ids)
    assert await orm_store.apopular_items(ct) == await seeded_graph_store.apopular_items(ct)


def test_an_empty_store_returns_empty_results(orm_store: OrmInteractionStore) -> None:
    assert len(orm_store.all_interactions("movies")) == 0
    assert orm_store.popular_items("movies") == []
    assert orm_store.trending_items("anime") == []
    assert orm_store.catalog("manga") == []
    seed(orm_store)
    assert len(orm_store.all_interactions("movies")) > 0
