"""Seeding: realistic, deterministic, valid data; seeding twice with the same seed changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command

from recommendations.data.neo4j_store import Neo4jInteractionStore
from recommendations.data.seeding import SeedSpec, generate_content, seed_store
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


@pytest.mark.django_db
def test_seeding_the_database_twice_with_the_same_seed_adds_nothing() -> None:
    args = ["--users", "40", "--movies", "50", "--anime", "20", "--seed", "5", "--interactions-per-user", "10"]
    call_command("seed_recommendations", *args, verbosity=0)
    counts = (Item.objects.count(), Interaction.objects.count())
    snapshot = list(Interaction.objects.order_by("id").values_list("user_id", "item_id", "kind", "value", "timestamp"))
    call_command("seed_recommendations", *args, verbosity=0)
    assert (Item.objects.count(), Interaction.objects.count()) == counts
    assert counts[1] > 500
    again = list(Interaction.objects.order_by("id").values_list("user_id", "item_id", "kind", "value", "timestamp"))
    assert again == snapshot


def test_seeding_the_graph_twice_with_the_same_seed_adds_nothing(graph_store: Neo4jInteractionStore) -> None:
    seed_store(graph_store, SMALL_SPEC, progress=False)
    first = graph_store.all_interactions("manga")
    seed_store(graph_store, SMALL_SPEC, progress=False)
    assert_same_arrays(graph_store.all_interactions("manga"), first)
    assert len(first) == len(generate_content(SMALL_SPEC, ContentType.MANGA).interactions)
