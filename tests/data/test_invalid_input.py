"""Bad ids and unknown content types are typed errors in both backends; odd but valid text is kept verbatim."""

from __future__ import annotations

import pytest

from recommendations.data.store import InteractionStore
from recommendations.domain import CatalogItem, ContentType, InteractionKind
from recommendations.errors import InvalidInteraction, InvalidItemId, InvalidUserId, UnknownContentType

pytestmark = pytest.mark.django_db

BAD_MOVIE_IDS = [
    "",
    "tt" + "1" * 40,  # too long
    "1234567",  # a MAL id is not an IMDb id
    "tt12",
    "tt0000001' OR 1=1 //",
    'tt0000001"}) DETACH DELETE n //',
    " tt0000001",
]
BAD_MAL_IDS = ["", "0", "007", "-5", "1.5", "tt0000001", "12345678901234567890", "1 RETURN 1", "١٢"]


@pytest.fixture
def store(any_store: InteractionStore) -> InteractionStore:
    """Each test runs against every backend (and each graph profile)."""
    return any_store


@pytest.mark.parametrize("item_id", BAD_MOVIE_IDS)
def test_it_rejects_a_malformed_movie_id(store: InteractionStore, item_id: str) -> None:
    with pytest.raises(InvalidItemId) as caught:
        store.catalog_items(ContentType.MOVIES, [item_id])
    assert caught.value.code == "invalid_item_id"
    assert caught.value.status_code == 400
    with pytest.raises(InvalidItemId):
        store.record_interaction(user_id=1, content_type="movies", item_id=item_id, kind=InteractionKind.LIKED)


@pytest.mark.parametrize("item_id", BAD_MAL_IDS)
def test_it_rejects_a_malformed_myanimelist_id(store: InteractionStore, item_id: str) -> None:
    with pytest.raises(InvalidItemId):
        store.catalog_items("anime", [item_id])
    with pytest.raises(InvalidItemId):
        store.upsert_catalog("manga", [CatalogItem(item_id=item_id, title="x", genres=())])


def test_it_rejects_an_id_that_is_not_a_string(store: InteractionStore) -> None:
    with pytest.raises(InvalidItemId):
        store.catalog_items("anime", [42])  # type: ignore[list-item]


@pytest.mark.parametrize("content_type", ["music", "", "Movies", "movies; MATCH (n) DETACH DELETE n"])
def test_it_rejects_an_unknown_content_type(store: InteractionStore, content_type: str) -> None:
    for call in (
        lambda: store.all_interactions(content_type),
        lambda: store.catalog(content_type),
        lambda: store.popular_items(content_type),
        lambda: store.user_history(content_type, 1),
    ):
        with pytest.raises(UnknownContentType) as caught:
            call()
        assert caught.value.code == "unknown_content_type"
        assert caught.value.status_code == 404


@pytest.mark.parametrize("user_id", [0, -1, 2**63, True, "1", 1.0])
def test_it_rejects_a_user_id_that_is_not_a_positive_integer(store: InteractionStore, user_id: object) -> None:
    with pytest.raises(InvalidUserId):
        store.user_history("movies", user_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content_type", "kind", "value"),
    [
        ("manga", InteractionKind.WATCHLIST, None),  # manga have no watch list
        ("movies", InteractionKind.TOP_LIST, 1.0),
        ("movies", InteractionKind.LIKED, 3.0),  # a like has no value
        ("anime", InteractionKind.RATED, None),  # a rating needs one
        ("anime", InteractionKind.RATED, 11.0),
        ("anime", InteractionKind.RATED, float("nan")),
        ("manga", InteractionKind.TOP_LIST, 1.5),
        ("manga", 99, None),
    ],
)
def test_it_rejects_an_interaction_the_content_type_does_not_have(
    store: InteractionStore, content_type: str, kind: int, value: float | None
) -> None:
    item_id = "tt0000001" if content_type == "movies" else "1"
    with pytest.raises(InvalidInteraction) as caught:
        store.record_interaction(user_id=1, content_type=content_type, item_id=item_id, kind=kind, value=value)
    assert caught.value.code == "invalid_interaction"


def test_titles_and_genres_with_quotes_braces_and_cypher_are_stored_verbatim(store: InteractionStore) -> None:
    odd = CatalogItem(
        item_id="tt0000001",
        title="He said \"}) MATCH (n) DETACH DELETE n // '; DROP TABLE x; --",
        genres=("{genre}", "RETURN", "`backtick`", "ünïcødé ✓"),
        year=1999,
    )
    store.upsert_catalog("movies", [odd])
    assert store.catalog("movies") == [odd]
    assert store.catalog_items("movies", ["tt0000001"]) == {"tt0000001": odd}
