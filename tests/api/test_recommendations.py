"""GET /v1/recommendations/<type>/ and GET /v1/recommendations/ through the real routes."""

from __future__ import annotations

import pytest

from recommendations.data import get_interaction_store
from recommendations.domain import ContentType
from tests.api.conftest import SEEDED_USER_ID, Api

pytestmark = pytest.mark.usefixtures("seeded", "models")


@pytest.mark.parametrize("content_type", ["movies", "manga", "anime"])
async def test_a_known_user_gets_model_recommendations_with_titles_ranks_and_reasons(
    api: Api, content_type: str
) -> None:
    response = await api.get(f"/v1/recommendations/{content_type}/", limit=5)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["content_type"] == content_type
    assert body["source"] == "model"
    assert body["model_version"]
    assert body["model_version"] != "popularity"
    assert body["variant"] == "control"
    assert [item["rank"] for item in body["items"]] == [1, 2, 3, 4, 5]
    for item in body["items"]:
        assert item["title"]
        assert item["reason"]["code"] == "because_you_liked"
        assert item["reason"]["item"]["item_id"]
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)


async def test_recommendations_never_include_what_the_user_already_interacted_with(api: Api) -> None:
    history = set((await get_interaction_store().auser_history(ContentType.MOVIES, SEEDED_USER_ID)).item_ids.tolist())
    assert history
    response = await api.get("/v1/recommendations/movies/", limit=100)
    recommended = {item["item_id"] for item in response.json()["items"]}
    assert recommended
    assert not recommended & history


async def test_pages_are_stable_and_never_repeat_an_item(api: Api) -> None:
    full = (await api.get("/v1/recommendations/anime/", limit=30)).json()["items"]
    pages = []
    for offset in (0, 10, 20):
        pages += (await api.get("/v1/recommendations/anime/", limit=10, offset=offset)).json()["items"]
    assert [i["item_id"] for i in pages] == [i["item_id"] for i in full]
    assert len({i["item_id"] for i in pages}) == 30
    assert [i["rank"] for i in pages] == list(range(1, 31))


async def test_a_user_without_history_gets_popular_items_marked_as_such(transactional_db: None) -> None:
    from asgiref.sync import sync_to_async

    from tests.api.conftest import make_user, obtain_tokens
    from tests.conftest import asgi_client

    await sync_to_async(make_user)(5000)  # not in the seeded data
    client = asgi_client()
    access = (await obtain_tokens(client, "user5000"))["access"]
    response = await client.get(
        "/v1/recommendations/movies/", params={"limit": 5}, headers={"Authorization": f"Bearer {access}"}
    )
    body = response.json()
    assert response.status_code == 200
    assert body["source"] == "popularity"
    assert len(body["items"]) == 5
    assert {item["reason"]["code"] for item in body["items"]} == {"popular"}


async def test_all_types_come_at_once(api: Api) -> None:
    response = await api.get("/v1/recommendations/", limit=3)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"movies", "manga", "anime", "errors"}
    assert body.pop("errors") == {}
    assert all(len(page["items"]) == 3 and page["source"] == "model" for page in body.values())


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
    ],
)
async def test_bad_paging_values_are_400_naming_the_field(api: Api, params: dict[str, object], field: str) -> None:
    response = await api.get("/v1/recommendations/movies/", **params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert field in error["details"]


async def test_an_unknown_content_type_is_404_with_a_stable_code(api: Api) -> None:
    response = await api.get("/v1/recommendations/podcasts/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_content_type"


async def test_a_user_id_in_the_query_is_ignored_users_only_get_their_own(api: Api) -> None:
    own = (await api.get("/v1/recommendations/movies/", limit=10)).json()
    other = (await api.get("/v1/recommendations/movies/", limit=10, user_id=6, user=6)).json()
    assert [i["item_id"] for i in other["items"]] == [i["item_id"] for i in own["items"]]
