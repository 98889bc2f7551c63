"""GET /v1/recommendations/<type>/popular/, /trending/ and /latest/ through the real routes."""

from __future__ import annotations

from collections import Counter

import pytest
from asgiref.sync import sync_to_async

from recommendations.data import get_interaction_store
from recommendations.domain import CatalogItem, ContentType
from tests.api.conftest import Api, make_user, obtain_tokens
from tests.conftest import asgi_client

pytestmark = pytest.mark.usefixtures("seeded")


async def common_genre(ct: ContentType) -> str:
    counts = Counter(genre for item in await get_interaction_store().acatalog(ct) for genre in item.genres)
    return counts.most_common(1)[0][0]


@pytest.mark.usefixtures("models")
@pytest.mark.parametrize("name", ["popular", "trending"])
async def test_with_a_model_popular_and_trending_are_the_models_own_ranked_lists(api: Api, name: str) -> None:
    response = await api.get(f"/v1/recommendations/anime/{name}/", limit=8)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["list"], body["content_type"], body["source"]) == (name, "anime", "model")
    assert body["model_version"] != "popularity"
    assert [item["rank"] for item in body["items"]] == list(range(1, 9))
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    assert all(item["title"] for item in body["items"])


@pytest.mark.usefixtures("models")
async def test_a_list_is_the_same_for_every_caller_and_cached_once_for_all(api: Api) -> None:
    first = await api.get("/v1/recommendations/movies/popular/", limit=5)
    await sync_to_async(make_user)(4321)
    other = Api(asgi_client(), (await obtain_tokens(asgi_client(), "user4321"))["access"])
    second = await other.get("/v1/recommendations/movies/popular/", limit=5)
    assert first.headers["X-Cache"] == "miss"
    assert second.headers["X-Cache"] == "hit"
    assert first.content == second.content


@pytest.mark.usefixtures("models")
async def test_pages_of_a_filtered_list_are_full_and_are_slices_of_it(api: Api) -> None:
    genre = await common_genre(ContentType.MOVIES)
    whole = (await api.get("/v1/recommendations/movies/popular/", limit=10, genre=genre)).json()["items"]
    first = (await api.get("/v1/recommendations/movies/popular/", limit=5, genre=genre)).json()["items"]
    second = (await api.get("/v1/recommendations/movies/popular/", limit=5, offset=5, genre=genre)).json()["items"]
    assert len(whole) == 10
    assert all(genre in item["genres"] for item in whole)
    assert [i["item_id"] for i in first + second] == [i["item_id"] for i in whole]


@pytest.mark.usefixtures("models")
async def test_latest_lists_the_newest_catalog_items_first_even_ones_no_model_knows(api: Api) -> None:
    store = get_interaction_store()
    await sync_to_async(store.upsert_catalog)(
        "movies", [CatalogItem("tt9999999", "Brand New", ("Drama",), 2030), CatalogItem("tt9999998", "Undated", ())]
    )
    body = (await api.get("/v1/recommendations/movies/latest/", limit=20)).json()
    assert body["source"] == "catalog"
    items = body["items"]
    assert items[0]["item_id"] == "tt9999999"
    assert items[0]["score"] is None
    years = [item["year"] for item in items]
    assert years == sorted(years, reverse=True)
    # Undated items come after every dated one; the excluded one is gone and the page is still full.
    hidden = (await api.get("/v1/recommendations/movies/latest/", limit=20, exclude="tt9999999")).json()["items"]
    assert [i["item_id"] for i in hidden] == [i["item_id"] for i in items[1:]] + [hidden[-1]["item_id"]]


@pytest.mark.usefixtures("models")
async def test_latest_manga_are_the_highest_catalog_ids(api: Api) -> None:
    items = (await api.get("/v1/recommendations/manga/latest/", limit=5)).json()["items"]
    ids = [int(item["item_id"]) for item in items]
    assert ids == sorted(ids, reverse=True)
    everything = await get_interaction_store().acatalog(ContentType.MANGA)
    assert ids[0] == max(int(item.item_id) for item in everything)


@pytest.mark.usefixtures("models")
async def test_latest_cannot_be_diversified(api: Api) -> None:
    response = await api.get("/v1/recommendations/anime/latest/", diversity=0.5)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_filter"


@pytest.mark.usefixtures("models")
async def test_diversity_re_ranks_a_model_list(api: Api) -> None:
    plain = (await api.get("/v1/recommendations/movies/popular/", limit=10)).json()
    diverse = (await api.get("/v1/recommendations/movies/popular/", limit=10, diversity=0.9)).json()
    assert diverse["diversity"] == 0.9
    assert [i["item_id"] for i in diverse["items"]] != [i["item_id"] for i in plain["items"]]


async def test_an_unknown_type_is_a_404(api: Api) -> None:
    response = await api.get("/v1/recommendations/books/popular/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_content_type"


@pytest.mark.usefixtures("no_models")
@pytest.mark.parametrize("name", ["popular", "trending"])
async def test_without_a_model_the_lists_come_from_the_data_service(api: Api, name: str) -> None:
    store = get_interaction_store()
    expected = await (store.apopular_items if name == "popular" else store.atrending_items)(ContentType.ANIME, limit=5)
    body = (await api.get(f"/v1/recommendations/anime/{name}/", limit=5)).json()
    assert (body["source"], body["model_version"]) == ("popularity", "popularity")
    assert [i["item_id"] for i in body["items"]] == [item.item_id for item in expected]


@pytest.mark.usefixtures("no_models")
async def test_without_a_model_filters_apply_and_diversity_is_reported_as_not_applied(api: Api) -> None:
    genre = await common_genre(ContentType.ANIME)
    for path in ("/v1/recommendations/anime/", "/v1/recommendations/anime/popular/"):
        body = (await api.get(path, limit=5, genre=genre, diversity=0.5)).json()
        assert body["source"] == "popularity"
        assert body["items"]
        assert all(genre in item["genres"] for item in body["items"])
        # No model, no item vectors: the answer says no diversity was applied rather than pretending.
        assert body["diversity"] == 0.0
