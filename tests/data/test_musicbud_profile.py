"""The ``musicbud`` graph profile: MusicBud's own graph read and written as the data service's interface says.

The graph is seeded the way MusicBud's backend holds it (people, accounts, edges without properties). The
built-in store is then filled with what the MusicBud store extracts, and the two must agree on everything
(arrays, batches, catalog, histories, popularity): the profile changes where data lives, not what it means.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from musicbud import graph
from recommendations.data.graph_profiles import MUSICBUD, PERSON_ID_BASE, decode_genres, person_user_id
from recommendations.data.loading import ContentDataset, write_dataset
from recommendations.data.musicbud_seeding import musicbud_edges, seed_musicbud_graph, seed_person, seed_username
from recommendations.data.neo4j_accounts import AccountGraphStore
from recommendations.data.orm_store import OrmInteractionStore
from recommendations.data.seeding import SeedSpec, generate_content
from recommendations.domain import ContentType, InteractionArrays, InteractionKind
from recommendations.models import GraphSighting

from .conftest import SMALL_SPEC, assert_same_arrays

pytestmark = pytest.mark.django_db
CONTENT_TYPES = list(ContentType)
# Users 1..3 of SMALL_SPEC have Django accounts (same username as their person); the others do not.
ACCOUNT_HOLDERS = (1, 2, 3)


def run(store: AccountGraphStore, text: str, **params: Any) -> list[Any]:
    return graph.get_driver().execute_query(text.replace("{p}", store.labels.prefix), params).records


@pytest.fixture
def accounts() -> dict[int, int]:
    """Django users for some seeded people: seeded user number -> Django user id."""
    model = get_user_model()
    return {n: model.objects.create_user(username=seed_username(n), password="x-unused-1").pk for n in ACCOUNT_HOLDERS}


@pytest.fixture
def pair(
    seeded_musicbud_store: AccountGraphStore, orm_store: OrmInteractionStore, accounts: dict[int, int]
) -> tuple[AccountGraphStore, OrmInteractionStore]:
    """The MusicBud graph, and the built-in store filled with what the MusicBud store reads from it."""
    for ct in ContentType:
        dataset = ContentDataset(ct, seeded_musicbud_store.catalog(ct), seeded_musicbud_store.all_interactions(ct))
        write_dataset(orm_store, dataset, batch_size=500, progress=False)
    return seeded_musicbud_store, orm_store


def test_the_seeded_graph_has_musicbuds_shape(seeded_musicbud_store: AccountGraphStore) -> None:
    store = seeded_musicbud_store
    person = seed_person(1)
    (row,) = run(
        store,
        "MATCH (p:`{p}ParentUser` {uid: $uid})-[:CONNECTED_TO_IMDB]->(i:`{p}ImdbUser`), "
        "(p)-[:CONNECTED_TO_MAL]->(m:`{p}MalUser`) RETURN p, i, m, labels(m) AS mal_labels",
        uid=person.uid,
    )
    assert row["p"]["username"] == "fan1"
    assert row["p"]["email"] == "fan1@example.com"
    assert row["i"]["user_id"] == person.imdb_user_id
    assert row["i"]["username"] == "fan1"
    assert set(row["mal_labels"]) == {f"{store.labels.prefix}MalUser", f"{store.labels.prefix}User"}
    assert row["m"]["user_id"] == person.mal_user_id
    assert row["m"]["service"] == "mal"
    # Edges carry no properties; movies are keyed by Cinemagoer's id (no "tt"), genres as neomodel's str(list).
    (edges,) = run(store, "MATCH (:`{p}ImdbUser`)-[r]->(m:`{p}ImdbMovie`) RETURN collect(properties(r)) AS props")
    assert edges["props"]
    assert all(props == {} for props in edges["props"])
    (movie,) = run(store, "MATCH (m:`{p}ImdbMovie`) RETURN m LIMIT 1")
    assert not movie["m"]["imdb_id"].startswith("tt")
    assert isinstance(movie["m"]["genres"], str)
    (anime,) = run(store, "MATCH (a:`{p}Anime`) RETURN a LIMIT 1")
    assert len(anime["a"]["uid"]) == 32
    assert anime["a"]["score"] == 0
    assert isinstance(anime["a"]["anime_id"], int)
    types = run(store, "MATCH (:`{p}MalUser`)-[r]->() RETURN DISTINCT type(r) AS t ORDER BY t")
    assert [r["t"] for r in types] == ["TOP_ANIME", "TOP_MANGA"]


@pytest.mark.parametrize("ct", CONTENT_TYPES)
def test_it_reads_what_musicbuds_graph_holds_with_django_ids_where_usernames_match(
    ct: ContentType, seeded_musicbud_store: AccountGraphStore, accounts: dict[int, int]
) -> None:
    stored = seeded_musicbud_store.all_interactions(ct)
    expected = musicbud_edges(ct, generate_content(SMALL_SPEC, ct).interactions, first_importer_only=False)
    ours = {n: accounts.get(n) or person_user_id(seed_person(n).uid) for n in range(1, SMALL_SPEC.users + 1)}
    assert all(uid >= PERSON_ID_BASE for n, uid in ours.items() if n not in accounts)

    def rows(a: InteractionArrays, users: dict[int, int] | None = None) -> list[tuple[int, str, int]]:
        ids = a.user_ids.tolist() if users is None else [users[u] for u in a.user_ids.tolist()]
        return sorted(zip(ids, a.item_ids.tolist(), a.kinds.tolist(), strict=True))

    assert rows(stored) == rows(expected, ours)
    # No scores, no ranks: each entry one strong positive (rank 1, the top of the rating scale).
    expected_values = np.select([stored.kinds == InteractionKind.TOP_LIST, stored.kinds == InteractionKind.RATED],
                                [1.0, 10.0], np.nan)  # fmt: skip
    np.testing.assert_array_equal(stored.values, expected_values.astype(np.float32))
    assert len(set(stored.timestamps.tolist())) == 1  # first seen now, all at once


@pytest.mark.parametrize("ct", CONTENT_TYPES)
def test_the_built_in_store_given_the_same_data_gives_identical_reads(
    ct: ContentType, pair: tuple[AccountGraphStore, OrmInteractionStore]
) -> None:
    musicbud, orm = pair
    assert_same_arrays(orm.all_interactions(ct), musicbud.all_interactions(ct))
    graph_batches = list(musicbud.iter_interactions(ct, batch_size=50))
    orm_batches = list(orm.iter_interactions(ct, batch_size=50))
    assert len(graph_batches) == len(orm_batches) > 1
    for left, right in zip(orm_batches, graph_batches, strict=True):
        assert_same_arrays(left, right)
    assert musicbud.catalog(ct) == orm.catalog(ct)
    some = [item.item_id for item in musicbud.catalog(ct)[:3]]
    assert musicbud.catalog_items(ct, some) == orm.catalog_items(ct, some)
    users = np.unique(musicbud.all_interactions(ct).user_ids).tolist()
    for user_id in [*users[:2], *users[-2:]]:
        assert_same_arrays(orm.user_history(ct, user_id), musicbud.user_history(ct, user_id))
    assert musicbud.popular_items(ct, limit=15) == orm.popular_items(ct, limit=15)
    assert musicbud.trending_items(ct, limit=10) == orm.trending_items(ct, limit=10)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_async_driver")
async def test_async_reads_match_the_sync_reads(seeded_musicbud_store: AccountGraphStore) -> None:
    await sync_to_async(get_user_model().objects.create_user)(username="fan4", password="x-unused-1")
    store, ct = seeded_musicbud_store, ContentType.MOVIES
    user_id = await sync_to_async(lambda: get_user_model().objects.get(username="fan4").pk)()
    history = await store.auser_history(ct, user_id)
    assert len(history) > 0
    assert set(history.user_ids.tolist()) == {user_id}
    assert_same_arrays(history, await sync_to_async(store.user_history)(ct, user_id))
    ids = history.item_ids[:2].tolist()
    assert await store.acatalog_items(ct, ids) == await sync_to_async(store.catalog_items)(ct, ids)
    assert await store.apopular_items(ct, limit=5) == await sync_to_async(store.popular_items)(ct, limit=5)


def test_first_seen_times_stay_and_only_new_edges_are_newer(musicbud_store: AccountGraphStore) -> None:
    clock = iter([1_000, 2_000, 3_000, 4_000, 5_000])
    musicbud_store.clock = lambda: next(clock)
    spec = SeedSpec(users=6, items={ContentType.MOVIES: 12}, seed=3, interactions_per_user=4)
    seed_musicbud_graph(musicbud_store, spec, progress=False)
    first = musicbud_store.all_interactions("movies")
    assert set(first.timestamps.tolist()) == {1_000}
    # MusicBud re-imports a user: it deletes their edges and creates them again, and adds one.
    person = seed_person(2)
    run(musicbud_store, "MATCH (:`{p}ParentUser` {uid: $uid})-->(:`{p}ImdbUser`)-[r]->() DELETE r", uid=person.uid)
    seed_musicbud_graph(musicbud_store, spec, progress=False)
    (row,) = run(
        musicbud_store,
        "MATCH (:`{p}ParentUser` {uid: $uid})-->(a:`{p}ImdbUser`) MATCH (m:`{p}ImdbMovie`) WHERE NOT (a)-->(m) "
        "WITH a, m ORDER BY m.imdb_id LIMIT 1 MERGE (a)-[:WANTS_TO_WATCH]->(m) RETURN m.imdb_id AS key",
        uid=person.uid,
    )
    new_movie = "tt" + row["key"]
    second = musicbud_store.all_interactions("movies")
    added = (second.kinds == InteractionKind.WATCHLIST) & (second.item_ids == new_movie)
    assert second.timestamps[added].tolist() == [2_000]
    assert set(second.timestamps[~added].tolist()) == {1_000}  # recreated edges keep their first time
    third = musicbud_store.all_interactions("movies")
    assert_same_arrays(third, second)
    assert GraphSighting.objects.filter(namespace=musicbud_store.labels.namespace).count() == spec.users
    # Recency-weighted popularity now sees the new edge as the newest event.
    window_end = musicbud_store.popular_items("movies", limit=50, window_days=1 / 86_400 * 500)
    assert [item.item_id for item in window_end] == [new_movie]


def test_the_mal_first_importer_quirk_leaves_one_edge_per_item_and_is_read_as_it_is(
    musicbud_store: AccountGraphStore,
) -> None:
    spec = SeedSpec(users=30, items={ContentType.ANIME: 20}, seed=5, interactions_per_user=6)
    seed_musicbud_graph(musicbud_store, spec, first_importer_only=True, progress=False)
    stored = musicbud_store.all_interactions("anime")
    _, per_item = np.unique(stored.item_ids, return_counts=True)
    assert per_item.max() == 1
    generated = generate_content(spec, ContentType.ANIME).interactions
    assert len(stored) < len(generated) / 3
    assert musicbud_store.popular_items("anime", limit=5)


def test_seeding_twice_adds_nothing(musicbud_store: AccountGraphStore) -> None:
    spec = SeedSpec(users=8, items={ContentType.MANGA: 10, ContentType.MOVIES: 10}, seed=9, interactions_per_user=3)
    seed_musicbud_graph(musicbud_store, spec, progress=False)
    (before,) = run(musicbud_store, "MATCH (n) WHERE any(l IN labels(n) WHERE l STARTS WITH $p) RETURN count(n) AS n",
                    p=musicbud_store.labels.prefix)  # fmt: skip
    first = musicbud_store.all_interactions("manga")
    seed_musicbud_graph(musicbud_store, spec, progress=False)
    (after,) = run(musicbud_store, "MATCH (n) WHERE any(l IN labels(n) WHERE l STARTS WITH $p) RETURN count(n) AS n",
                   p=musicbud_store.labels.prefix)  # fmt: skip
    assert after["n"] == before["n"]
    assert_same_arrays(musicbud_store.all_interactions("manga"), first)


def test_the_schema_has_the_keys_musicbuds_models_declare_unique(musicbud_store: AccountGraphStore) -> None:
    from recommendations.data.neo4j_schema import schema_names

    names = schema_names(graph.get_driver())
    assert set(musicbud_store.labels.constraints()) <= names
    assert set(musicbud_store.labels.indexes()) <= names
    lower = musicbud_store.labels.prefix.lower()
    assert {
        f"{lower}imdbmovie_imdb_id_unique",
        f"{lower}anime_anime_id_unique",
        f"{lower}parentuser_uid_unique",
    } <= names


def test_edges_of_accounts_without_a_person_and_invalid_keys_are_left_out(musicbud_store: AccountGraphStore) -> None:
    seed_musicbud_graph(musicbud_store, SeedSpec(users=2, items={ContentType.MOVIES: 5}, seed=1), progress=False)
    assert musicbud_store.all_interactions("movies")
    run(
        musicbud_store,
        "CREATE (a:`{p}ImdbUser` {user_id: 'orphan', username: 'x'}) WITH a MATCH (m:`{p}ImdbMovie`) "
        "CREATE (a)-[:LIKES]->(m)",
    )
    run(
        musicbud_store,
        "CREATE (bad:`{p}ImdbMovie` {imdb_id: 'not-an-id', title: 'Bad'}) "
        "WITH bad MATCH (:`{p}ParentUser`)-->(i:`{p}ImdbUser`) CREATE (i)-[:LIKES]->(bad)",
    )
    stored = musicbud_store.all_interactions("movies")
    assert "ttnot-an-id" not in stored.item_ids.tolist()
    generated = generate_content(SeedSpec(users=2, items={ContentType.MOVIES: 5}, seed=1), ContentType.MOVIES)
    assert len(stored) == len(musicbud_edges(ContentType.MOVIES, generated.interactions, first_importer_only=False))
    assert all(item.item_id != "ttnot-an-id" for item in musicbud_store.catalog("movies"))


def test_genres_read_in_either_stored_format() -> None:
    assert decode_genres("['Drama', \"Children's\"]") == ("Drama", "Children's")
    assert decode_genres(["Drama"]) == ("Drama",)
    assert decode_genres("Drama") == ("Drama",)
    assert decode_genres("[broken") == ("[broken",)
    assert decode_genres(None) == ()
    assert MUSICBUD.stored_form(ContentType.ANIME, InteractionKind.LIKED, None) == (InteractionKind.TOP_LIST, 1.0)
    assert MUSICBUD.stored_form(ContentType.MOVIES, InteractionKind.DISLIKED, None) == (InteractionKind.DISLIKED, None)


def test_person_ids_are_stable_and_above_every_django_id() -> None:
    assert person_user_id("abc") == person_user_id("abc") != person_user_id("abd")
    assert PERSON_ID_BASE <= person_user_id("abc") < 2**63
