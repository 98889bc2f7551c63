"""A hidden item leaves every list the API serves at once, cached ones included, and un-hiding restores it.

Hiding goes through ``recommendations.hiding`` (what the admin's catalog action and ``manage.py hide_items``
call); everything is read back through the real routes with a real token, with the suite's Redis as the
shared cache (the generation bump is what every worker reads).
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from recommendations import hiding
from recommendations.domain import ContentType
from tests.api.conftest import API_SPEC, SEEDED_USER_ID, Api

MOVIES = "/v1/recommendations/movies/"


async def hide(item_id: str, content_type: ContentType = ContentType.MOVIES) -> None:
    result = await hiding.hide_items(content_type=content_type, item_ids=[item_id], by_user_id=None)
    assert result.changed == (item_id,)
    assert result.cache_invalidated


async def unhide(item_id: str, content_type: ContentType = ContentType.MOVIES) -> None:
    result = await hiding.unhide_items(content_type=content_type, item_ids=[item_id], by_user_id=None)
    assert result.changed == (item_id,)


def ids(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


@pytest.mark.usefixtures("seeded", "models")
async def test_a_hidden_item_leaves_cached_pages_at_once_and_returns_when_un_hidden(api: Api) -> None:
    first = await api.get(MOVIES, limit=10)
    assert (await api.get(MOVIES, limit=10)).headers["X-Cache"] == "hit"
    filtered = await api.get(MOVIES, limit=10, diversity=0.3)  # the Django path: a filter is in the key
    before, top = ids(first.json()), first.json()["items"][0]["item_id"]
    assert top in ids(filtered.json())

    await hide(top)
    after = await api.get(MOVIES, limit=10)
    assert after.headers["X-Cache"] == "miss"
    assert top not in ids(after.json())
    assert ids(after.json()) == before[1:] + ids(after.json())[9:]  # the rest moved up by one
    assert top not in ids((await api.get(MOVIES, limit=10, diversity=0.3)).json())
    assert top not in ids((await api.get("/v1/recommendations/", limit=10)).json()["movies"])

    await unhide(top)
    assert ids((await api.get(MOVIES, limit=10)).json()) == before


@pytest.mark.usefixtures("seeded", "models")
async def test_a_hidden_item_is_in_no_popular_trending_latest_or_public_list(api: Api) -> None:
    heads = {}
    for name in ("popular", "trending", "latest"):
        heads[name] = ids((await api.get(f"{MOVIES}{name}/", limit=5)).json())[0]
    public = (await api.client.get("/v1/recommendations/public/", params={"limit": 5})).json()["data"]
    assert heads["popular"] == public["movies"][0]["item_id"]

    for item_id in set(heads.values()):
        await hide(item_id)
    for name in ("popular", "trending", "latest"):
        assert not set(heads.values()) & set(ids((await api.get(f"{MOVIES}{name}/", limit=5)).json())), name
    public = (await api.client.get("/v1/recommendations/public/", params={"limit": 5})).json()["data"]
    shown = {item["item_id"] for item in public["movies"] + public["trending"]["movies"]}
    assert not set(heads.values()) & shown


@pytest.mark.usefixtures("seeded", "models")
async def test_a_hidden_item_is_never_a_similar_item_but_its_own_neighbours_still_answer(api: Api) -> None:
    anchor = ids((await api.get(MOVIES, limit=1)).json())[0]
    similar = ids((await api.get(f"{MOVIES}{anchor}/similar/", limit=5)).json())
    await hide(similar[0])
    assert similar[0] not in ids((await api.get(f"{MOVIES}{anchor}/similar/", limit=5)).json())

    await hide(anchor)
    own = await api.get(f"{MOVIES}{anchor}/similar/", limit=5)
    assert own.status_code == 200
    assert ids(own.json()) == [*similar[1:], ids(own.json())[4]]


@pytest.mark.usefixtures("seeded", "no_models")
async def test_without_a_model_the_popularity_pages_leave_hidden_items_out(api: Api) -> None:
    body = (await api.get(MOVIES, limit=5)).json()
    assert body["source"] == "popularity"
    await hide(ids(body)[0])
    after = (await api.get(MOVIES, limit=5)).json()
    assert ids(after) == [*ids(body)[1:], ids(after)[4]]
    assert ids(body)[0] not in ids((await api.get(f"{MOVIES}popular/", limit=5)).json())


@pytest.mark.usefixtures("seeded", "models")
async def test_buds_items_in_common_leave_hidden_items_out(api: Api) -> None:
    await sync_to_async(get_user_model().objects.bulk_create)(
        [get_user_model()(id=n, username=f"user{n}", password="!") for n in range(1, API_SPEC.users + 1)
         if n != SEEDED_USER_ID]
    )  # fmt: skip
    first = (await api.get("/v1/recommendations/buds/", type="movies", limit=5)).json()["buds"]
    common = first[0]["common_items"][0]["item_id"]
    await hide(common)
    after = (await api.get("/v1/recommendations/buds/", type="movies", limit=5)).json()["buds"]
    assert [bud["user_id"] for bud in after] == [bud["user_id"] for bud in first]  # scores do not change
    assert common not in {item["item_id"] for bud in after for item in bud["common_items"]}
