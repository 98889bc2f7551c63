"""Filters on the personalized list and similar items, through the real routes: applied before paging."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from recommendations.data import get_interaction_store
from recommendations.domain import CatalogItem, ContentType
from recommendations.filtering import MAX_EXCLUDE, CatalogIndex, ListFilters
from tests.api.conftest import Api

pytestmark = pytest.mark.usefixtures("seeded", "models")
MOVIES = "/v1/recommendations/movies/"


async def catalog(ct: ContentType) -> dict[str, CatalogItem]:
    return {item.item_id: item for item in await get_interaction_store().acatalog(ct)}


async def two_common_genres(ct: ContentType) -> list[str]:
    counts = Counter(genre for item in (await catalog(ct)).values() for genre in item.genres)
    return [genre for genre, _ in counts.most_common(2)]


async def test_a_genre_filter_keeps_items_of_any_of_the_genres_and_the_page_is_full(api: Api) -> None:
    genres = await two_common_genres(ContentType.MOVIES)
    response = await api.get(MOVIES, limit=15, genre=genres)

    assert response.status_code == 200, response.json()
    items = response.json()["items"]
    assert len(items) == 15
    assert all(set(item["genres"]) & set(genres) for item in items)
    assert [item["rank"] for item in items] == list(range(1, 16))


async def test_genres_match_in_any_letter_case(api: Api) -> None:
    genre = (await two_common_genres(ContentType.MOVIES))[0]
    exact = (await api.get(MOVIES, limit=5, genre=genre)).json()["items"]
    shouted = (await api.get(MOVIES, limit=5, genre=genre.upper())).json()["items"]
    assert [i["item_id"] for i in shouted] == [i["item_id"] for i in exact]


async def test_pages_of_a_filtered_list_are_the_slices_of_its_ranking(api: Api) -> None:
    genre = (await two_common_genres(ContentType.MOVIES))[0]
    whole = (await api.get(MOVIES, limit=12, genre=genre)).json()["items"]
    first = (await api.get(MOVIES, limit=6, genre=genre)).json()["items"]
    second = (await api.get(MOVIES, limit=6, offset=6, genre=genre)).json()["items"]
    assert [i["item_id"] for i in first + second] == [i["item_id"] for i in whole]
    assert [i["rank"] for i in second] == list(range(7, 13))


async def test_a_year_range_keeps_only_movies_released_in_it(api: Api) -> None:
    years = {item_id: item.year for item_id, item in (await catalog(ContentType.MOVIES)).items()}
    response = await api.get(MOVIES, limit=10, year_min=1980, year_max=1999)
    items = response.json()["items"]
    assert items
    assert all(1980 <= (years[i["item_id"]] or 0) <= 1999 for i in items)


async def test_excluded_items_never_appear_and_the_page_stays_full(api: Api) -> None:
    plain = [i["item_id"] for i in (await api.get(MOVIES, limit=10)).json()["items"]]
    hidden = plain[:3]
    response = await api.get(MOVIES, limit=10, exclude=",".join(hidden[:2]) + "," + hidden[2])
    ids = [i["item_id"] for i in response.json()["items"]]
    assert len(ids) == 10
    assert not set(ids) & set(hidden)
    assert ids[:7] == plain[3:]


async def test_filters_and_diversity_are_part_of_the_cache_key(api: Api) -> None:
    genre = (await two_common_genres(ContentType.MOVIES))[0]
    assert (await api.get(MOVIES, limit=10)).headers["X-Cache"] == "miss"
    filtered = await api.get(MOVIES, limit=10, genre=genre)
    assert filtered.headers["X-Cache"] == "miss"
    assert (await api.get(MOVIES, limit=10, genre=genre)).headers["X-Cache"] == "hit"
    diverse = await api.get(MOVIES, limit=10, diversity=0.7)
    assert diverse.headers["X-Cache"] == "miss"
    assert diverse.json()["diversity"] == 0.7
    assert (await api.get(MOVIES, limit=10, diversity=0.7)).headers["X-Cache"] == "hit"


async def test_diversity_reranks_the_same_candidates(api: Api) -> None:
    plain = (await api.get(MOVIES, limit=10)).json()
    diverse = (await api.get(MOVIES, limit=10, diversity=0.9)).json()
    assert plain["diversity"] == 0.0
    # MMR trades relevance for spread: the top item stays, the rest is re-ranked from a larger pool.
    assert diverse["items"][0]["item_id"] == plain["items"][0]["item_id"]
    assert [i["item_id"] for i in diverse["items"]] != [i["item_id"] for i in plain["items"]]


async def test_similar_items_take_the_same_filters(api: Api) -> None:
    item = (await api.get(MOVIES, limit=1)).json()["items"][0]["item_id"]
    genre = (await two_common_genres(ContentType.MOVIES))[0]
    plain = (await api.get(f"{MOVIES}{item}/similar/", limit=5)).json()["items"]
    response = await api.get(f"{MOVIES}{item}/similar/", limit=5, genre=genre, exclude=plain[0]["item_id"])
    assert response.status_code == 200, response.json()
    body = response.json()
    assert len(body["items"]) == 5
    assert all(genre in i["genres"] for i in body["items"])
    assert plain[0]["item_id"] not in [i["item_id"] for i in body["items"]]
    page_two = (await api.get(f"{MOVIES}{item}/similar/", limit=5, offset=5, genre=genre)).json()
    assert page_two["items"][0]["rank"] == 6


@pytest.mark.parametrize(
    ("path", "params", "code", "field"),
    [
        (MOVIES, {"genre": "Polka"}, "unknown_genre", "genre"),
        (MOVIES, {"limit": 0}, "invalid_input", "limit"),
        (MOVIES, {"limit": 101}, "invalid_input", "limit"),
        (MOVIES, {"exclude": ",".join(f"tt{n:07d}" for n in range(MAX_EXCLUDE + 1))}, "too_many_excludes", None),
        (MOVIES, {"exclude": "tt12;DROP"}, "invalid_item_id", None),
        # Ids as sent, comma-separated: a space is part of the id (the schema's pattern says so).
        (MOVIES, {"exclude": "tt0000001, tt0000002"}, "invalid_item_id", None),
        # An empty value is not "not sent": DRF would apply the default.
        (MOVIES, {"limit": ""}, "invalid_input", "limit"),
        (MOVIES, {"exclude": ""}, "invalid_input", "exclude"),
        ("/v1/recommendations/buds/", {"type": ""}, "invalid_input", "type"),
        ("/v1/recommendations/anime/", {"exclude": "tt0000001"}, "invalid_item_id", None),
        (MOVIES, {"diversity": 1.5}, "invalid_input", "diversity"),
        (MOVIES, {"diversity": "lots"}, "invalid_input", "diversity"),
        (MOVIES, {"year_min": "1990s"}, "invalid_input", "year_min"),
        (MOVIES, {"year_min": 2000, "year_max": 1990}, "invalid_filter", "year_min"),
        ("/v1/recommendations/anime/", {"year_min": 2000}, "invalid_filter", "year_min"),
        (f"{MOVIES}tt800000001/similar/", {"genre": "Polka"}, "unknown_genre", "genre"),
        ("/v1/recommendations/manga/popular/", {"limit": 500}, "invalid_input", "limit"),
        ("/v1/recommendations/manga/latest/", {"genre": "Polka"}, "unknown_genre", "genre"),
    ],
)
async def test_bad_filters_are_a_400_with_a_stable_code(
    api: Api, path: str, params: dict[str, Any], code: str, field: str | None
) -> None:
    response = await api.get(path, **params)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == code
    if code == "invalid_input":
        assert field in error["details"]
    elif field is not None:
        assert field in str(error["details"])


def test_an_empty_catalog_lets_no_item_through_a_year_filter() -> None:
    # Found by the schema fuzzer: a model served before any catalog was loaded.
    index = CatalogIndex.build(ContentType.MOVIES, [])
    passes = index.allowed_of(np.asarray(["tt0000001", "tt0000002"]), ListFilters(year_min=2000))
    assert passes.tolist() == [False, False]
    assert CatalogIndex.from_bytes(index.to_bytes()).item_ids.shape == (0,)
