"""Without a trained model every type is served from popularity, marked as such."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.usefixtures("seeded", "no_models")


async def test_without_a_model_recommendations_come_from_popularity(api: Api) -> None:
    response = await api.get("/v1/recommendations/manga/", limit=5)
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "popularity"
    assert body["model_version"] == "popularity"
    assert len(body["items"]) == 5
    assert all(item["title"] for item in body["items"])


async def test_the_popularity_fallback_still_excludes_the_users_history(api: Api) -> None:
    from recommendations.data import get_interaction_store
    from recommendations.domain import ContentType
    from tests.api.conftest import SEEDED_USER_ID

    history = set((await get_interaction_store().auser_history(ContentType.ANIME, SEEDED_USER_ID)).item_ids.tolist())
    items = (await api.get("/v1/recommendations/anime/", limit=100)).json()["items"]
    assert items
    assert not {item["item_id"] for item in items} & history


async def test_similar_items_of_a_type_without_model_is_404(api: Api) -> None:
    response = await api.get("/v1/recommendations/movies/tt0000001/similar/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "item_not_found"


async def test_status_says_each_type_is_on_popularity(api: Api) -> None:
    body = (await api.get("/v1/recommendations/status/")).json()
    assert {ct: body[ct]["source"] for ct in body} == {
        "movies": "popularity",
        "manga": "popularity",
        "anime": "popularity",
    }
