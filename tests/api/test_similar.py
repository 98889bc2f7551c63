"""GET /v1/recommendations/<type>/<item_id>/similar/."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.usefixtures("seeded", "models")


async def test_similar_items_are_ranked_by_similarity_without_the_item_itself(api: Api) -> None:
    seed_item = (await api.get("/v1/recommendations/movies/", limit=1)).json()["items"][0]["item_id"]
    response = await api.get(f"/v1/recommendations/movies/{seed_item}/similar/", limit=7)
    assert response.status_code == 200
    body = response.json()
    assert body["item"]["item_id"] == seed_item
    assert body["item"]["title"]
    similarities = [item["similarity"] for item in body["items"]]
    assert len(similarities) == 7
    assert similarities == sorted(similarities, reverse=True)
    assert seed_item not in [item["item_id"] for item in body["items"]]
    assert all(-1.0 <= s <= 1.0 for s in similarities)


async def test_an_unknown_item_is_404_with_a_stable_code(api: Api) -> None:
    response = await api.get("/v1/recommendations/anime/999999999/similar/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "item_not_found"


async def test_similar_items_limit_is_validated(api: Api) -> None:
    response = await api.get("/v1/recommendations/anime/1/similar/", limit=1000)
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["details"]
