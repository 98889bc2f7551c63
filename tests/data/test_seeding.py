"""Seeding: realistic, deterministic, valid data; next to data that exists it changes none of it."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recommendations.data.arrays import take
from recommendations.data.musicbud_seeding import after_existing_people, seed_musicbud_graph
from recommendations.data.neo4j_accounts import AccountGraphStore
from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.data.orm_store import OrmInteractionStore
from recommendations.data.seeding import SeedSpec, after_existing, generate_content, seed_store, synthetic_number
from recommendations.data.validation import validate_arrays
from recommendations.domain import ContentType, InteractionKind
from recommendations.models import Interaction, Item

from .conftest import SMALL_SPEC, assert_same_arrays

SPEC = SeedSpec(users=300, items={ContentType.MOVIES: 400, ContentType.ANIME: 200}, seed=11, interactions_per_user=30)


@pytest.mark.parametrize("ct", [ContentType.MOVIES, ContentType.ANIME])
def test_the_same_spec_generates_the_same_data_and_another_seed_different_data(ct: ContentType) -> None:
    first, again = generate_content(SPEC, ct), generate_content(SPEC, ct)
    assert first.catalog == again.catalog
    assert_same_arrays(first.interactions, again.interactions)
    other = generate_content(SeedSpec(users=300, items=SPEC.items, seed=12, interactions_per_user=30), ct)
    assert not np.array_equal(other.interactions.item_ids[:100], first.interactions.item_ids[:100])


@pytest.mark.parametrize("ct", [ContentType.MOVIES, ContentType.ANIME])
def test_generated_data_passes_the_stores_checks_and_has_one_row_per_key(ct: ContentType) -> None:
    arrays = generate_content(SPEC, ct).interactions
    validate_arrays(ct, arrays)
    keys = set(zip(arrays.user_ids.tolist(), arrays.item_ids.tolist(), arrays.kinds.tolist(), strict=True))
    assert len(keys) == len(arrays)
    assert abs(len(arrays) / SPEC.users - SPEC.interactions_per_user) < 0.25 * SPEC.interactions_per_user


def test_generated_data_looks_like_real_usage() -> None:
    arrays = generate_content(SPEC, ContentType.MOVIES).interactions
    kinds = np.bincount(arrays.kinds, minlength=7)
    for kind in (InteractionKind.LIKED, InteractionKind.WATCHED, InteractionKind.WATCHLIST, InteractionKind.DISLIKED):
        assert kinds[kind] > 0.03 * len(arrays)
    # Power-law popularity: the top 5% of items get far more than 5% of the interactions.
    per_item = np.sort(np.unique(arrays.item_ids, return_counts=True)[1])[::-1]
    assert per_item[: len(per_item) // 20].sum() > 0.2 * per_item.sum()
    # Spread over months, ending at the spec's end.
    assert arrays.timestamps.max() <= SPEC.end_timestamp
    assert arrays.timestamps.max() - arrays.timestamps.min() > 200 * 86_400


def test_top_list_ranks_run_from_one_per_user() -> None:
    arrays = generate_content(SPEC, ContentType.ANIME).interactions
    top = arrays.kinds == InteractionKind.TOP_LIST
    for user in np.unique(arrays.user_ids[top])[:20]:
        ranks = np.sort(arrays.values[top & (arrays.user_ids == user)])
        np.testing.assert_array_equal(ranks, np.arange(1, ranks.size + 1))


def _rows() -> list[tuple[int, str, str, int, float | None, int]]:
    return list(
        Interaction.objects.order_by("user_id", "content_type", "item__external_id", "kind").values_list(
            "user_id", "content_type", "item__external_id", "kind", "value", "timestamp"
        )
    )


def _genres() -> dict[tuple[str, str], list[str]]:
    return {
        (ct, item): genres for ct, item, genres in Item.objects.values_list("content_type", "external_id", "genres")
    }


@pytest.mark.django_db
def test_seeding_next_to_the_demo_writes_after_every_id_and_changes_nothing_that_exists() -> None:
    from django.contrib.auth import get_user_model

    from recommendations.forgetting import forget_recommendation_data

    users = get_user_model().objects
    users.create_user(id=1, username="admin", password="x-unused-1")
    users.create_user(id=2, username="demo", password="x-unused-2")
    store = OrmInteractionStore()
    seed_store(store, SMALL_SPEC, progress=False)  # users 1-40, as demo_setup seeds the demo's users
    # The highest user was forgotten: their id must not come back with seeded interactions.
    forget_recommendation_data(40)
    before, genres = _rows(), _genres()

    out = StringIO()
    call_command("seed_recommendations", "--users", "20", "--movies", "30", "--seed", "3", stdout=out, verbosity=0)

    after = _rows()
    assert [row for row in after if row[0] <= 40] == before  # admin, demo and everyone else untouched
    assert {item: g for item, g in _genres().items() if item in genres} == genres
    new = [row for row in after if row[0] > 40]
    assert {row[0] for row in new} <= set(range(41, 61))
    assert len(new) > 100
    movie_numbers = {synthetic_number(ContentType.MOVIES, row[2]) for row in new}
    assert min(n for n in movie_numbers if n is not None) == SMALL_SPEC.items[ContentType.MOVIES] + 1
    assert "users 41-60" in out.getvalue()
    assert store.user_history(ContentType.MOVIES, 40).user_ids.size == 0


@pytest.mark.django_db
def test_seeding_twice_adds_new_users_the_second_time_instead_of_rewriting_the_first() -> None:
    args = ["--users", "10", "--movies", "20", "--seed", "5", "--interactions-per-user", "5"]
    call_command("seed_recommendations", *args, verbosity=0)
    first = _rows()
    call_command("seed_recommendations", *args, verbosity=0)
    after = _rows()
    assert [row for row in after if row[0] <= 10] == first
    assert {row[0] for row in after if row[0] > 10} <= set(range(11, 21))
    assert Item.objects.count() == 40


@pytest.mark.django_db
def test_a_first_user_id_in_use_is_refused_with_what_to_do_instead() -> None:
    call_command("seed_recommendations", "--users", "10", "--movies", "20", verbosity=0)
    before = _rows()
    with pytest.raises(CommandError, match=r"below 11 are in use.*--replace"):
        call_command("seed_recommendations", "--users", "5", "--movies", "20", "--first-user-id", "3", verbosity=0)
    assert _rows() == before


@pytest.mark.django_db
def test_replace_writes_at_the_specs_own_ids_idempotently_and_drops_every_cached_page() -> None:
    from asgiref.sync import async_to_sync

    from musicbud import cache
    from recommendations.caching import GLOBAL_GENERATION

    args = ["--users", "40", "--movies", "50", "--anime", "20", "--seed", "5", "--interactions-per-user", "10"]
    call_command("seed_recommendations", "--replace", *args, verbosity=0)
    counts = (Item.objects.count(), Interaction.objects.count())
    snapshot = _rows()
    generation = async_to_sync(cache.read)([GLOBAL_GENERATION])[0][0]
    call_command("seed_recommendations", "--replace", *args, verbosity=0)
    assert (Item.objects.count(), Interaction.objects.count()) == counts
    assert counts[1] > 500
    assert _rows() == snapshot
    assert async_to_sync(cache.read)([GLOBAL_GENERATION])[0][0] not in (None, generation)


@pytest.mark.django_db
def test_seeding_a_graph_with_data_writes_after_its_users_and_items(graph_store: Neo4jInteractionStore) -> None:
    seed_store(graph_store, SMALL_SPEC, progress=False)
    before = {ct: graph_store.all_interactions(ct) for ct in ContentType}
    catalog = graph_store.catalog(ContentType.MANGA)
    placed = after_existing_in_graph(graph_store)
    assert placed.first_user_id == SMALL_SPEC.users + 1
    assert placed.first_item == {ContentType.MANGA: SMALL_SPEC.items[ContentType.MANGA] + 1}
    seed_store(graph_store, placed, progress=False)
    after = graph_store.all_interactions(ContentType.MANGA)
    old = np.flatnonzero(after.user_ids <= SMALL_SPEC.users)
    assert_same_arrays(take(after, old), before[ContentType.MANGA])
    assert len(after) > len(before[ContentType.MANGA])
    assert graph_store.catalog(ContentType.MANGA)[: len(catalog)] == catalog
    assert_same_arrays(graph_store.all_interactions(ContentType.MOVIES), before[ContentType.MOVIES])


def test_seeding_a_musicbud_graph_with_people_adds_new_people_after_them(musicbud_store: AccountGraphStore) -> None:
    seed_musicbud_graph(musicbud_store, SMALL_SPEC, progress=False)
    edges = musicbud_store.all_interactions(ContentType.MOVIES)
    spec = SeedSpec(users=5, items={ContentType.MOVIES: 10}, seed=9, interactions_per_user=4)
    placed = after_existing_people(musicbud_store, spec)
    assert placed.first_user_id == SMALL_SPEC.users + 1
    assert placed.first_item == {ContentType.MOVIES: SMALL_SPEC.items[ContentType.MOVIES] + 1}
    seed_musicbud_graph(musicbud_store, placed, progress=False)
    after = musicbud_store.all_interactions(ContentType.MOVIES)
    old_items = set(edges.item_ids.tolist())
    kept = take(after, np.flatnonzero(np.isin(after.item_ids, list(old_items))))
    assert_same_arrays(kept, edges)  # the new people only have the new items: the old edges are as they were
    assert len(after) > len(edges)


def after_existing_in_graph(store: Neo4jInteractionStore) -> SeedSpec:
    return after_existing(store, SeedSpec(users=10, items={ContentType.MANGA: 10}, seed=1, interactions_per_user=5))


def test_seeding_the_graph_twice_with_the_same_seed_adds_nothing(graph_store: Neo4jInteractionStore) -> None:
    seed_store(graph_store, SMALL_SPEC, progress=False)
    first = graph_store.all_interactions("manga")
    seed_store(graph_store, SMALL_SPEC, progress=False)
    assert_same_arrays(graph_store.all_interactions("manga"), first)
    assert len(first) == len(generate_content(SMALL_SPEC, ContentType.MANGA).interactions)
