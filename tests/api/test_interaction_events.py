"""Every interaction kind through POST /v1/recommendations/events/, applied to the real store at once."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from analytics.models import RecommendationEvent
from recommendations.data import get_interaction_store
from recommendations.domain import ContentType, InteractionKind
from recommendations.models import PendingInteraction
from tests.api.conftest import SEEDED_USER_ID, Api

pytestmark = pytest.mark.usefixtures("seeded", "models")
EVENTS = "/v1/recommendations/events/"


def event(kind: str, item_id: str, content_type: str = "movies", **fields: Any) -> dict[str, Any]:
    base = {"client_event_id": str(uuid.uuid4()), "content_type": content_type, "item_id": item_id, "event": kind}
    return base | fields


async def history(ct: ContentType) -> dict[tuple[str, int], float]:
    """(item, kind) -> value (NaN where the kind has none) of the seeded user, from the store."""
    arrays = await get_interaction_store().auser_history(ct, SEEDED_USER_ID)
    return {
        (item, kind): value
        for item, kind, value in zip(
            arrays.item_ids.tolist(), arrays.kinds.tolist(), arrays.values.tolist(), strict=True
        )
    }


async def unseen(api: Api, ct: str) -> list[str]:
    """Items the seeded user never touched: the top of their recommendations."""
    return [item["item_id"] for item in (await api.get(f"/v1/recommendations/{ct}/", limit=5)).json()["items"]]


async def test_watched_and_a_watchlist_entry_are_recorded_and_a_removal_deletes_it(api: Api) -> None:
    first, second = (await unseen(api, "movies"))[:2]
    response = await api.post(
        EVENTS, {"events": [event("watched", first), event("watchlist_add", second), event("watchlist_remove", second)]}
    )
    assert response.status_code == 201, response.json()
    assert response.json() == {"stored": 3, "duplicates": 0, "pending": 0}
    mine = await history(ContentType.MOVIES)
    assert (first, InteractionKind.WATCHED) in mine
    assert (second, InteractionKind.WATCHLIST) not in mine


async def test_a_rating_is_stored_on_the_types_scale(api: Api) -> None:
    movie = (await unseen(api, "movies"))[0]
    anime = (await unseen(api, "anime"))[0]
    await api.post(
        EVENTS, {"events": [event("rated", movie, value=8, scale=10), event("rated", anime, "anime", value=4, scale=5)]}
    )
    # Movies are rated 1-5 (MovieLens), anime 1-10 (MyAnimeList): 8/10 is a 4 and 4/5 an 8.
    assert (await history(ContentType.MOVIES))[(movie, InteractionKind.RATED)] == pytest.approx(4.0)
    assert (await history(ContentType.ANIME))[(anime, InteractionKind.RATED)] == pytest.approx(8.0)
    # Without a scale a rating is on its type's own scale; rating again replaces it.
    await api.post(EVENTS, event("rated", movie, value=2))
    assert (await history(ContentType.MOVIES))[(movie, InteractionKind.RATED)] == pytest.approx(2.0)


async def test_a_top_list_entry_keeps_its_rank_and_is_removed_again(api: Api) -> None:
    manga = (await unseen(api, "manga"))[0]
    await api.post(EVENTS, event("top_list_add", manga, "manga", rank=2))
    assert (await history(ContentType.MANGA))[(manga, InteractionKind.TOP_LIST)] == 2.0
    await api.post(EVENTS, event("top_list_remove", manga, "manga"))
    assert (manga, InteractionKind.TOP_LIST) not in await history(ContentType.MANGA)


async def test_removing_a_like_brings_the_item_back_into_the_recommendations(api: Api) -> None:
    before = await unseen(api, "anime")
    liked = before[0]
    await api.post(EVENTS, event("like", liked, "anime"))
    after_like = await api.get("/v1/recommendations/anime/", limit=5)
    # Fold-in at once: the user's cached pages were dropped and the like is excluded and used.
    assert after_like.headers["X-Cache"] == "miss"
    assert liked not in [i["item_id"] for i in after_like.json()["items"]]

    await api.post(EVENTS, event("unlike", liked, "anime"))
    assert (liked, InteractionKind.LIKED) not in await history(ContentType.ANIME)
    assert (await api.get("/v1/recommendations/anime/", limit=5)).headers["X-Cache"] == "miss"


async def test_a_batch_is_applied_in_order(api: Api) -> None:
    movie = (await unseen(api, "movies"))[0]
    batch = [event("like", movie), event("unlike", movie), event("like", movie), event("rated", movie, value=3)]
    await api.post(EVENTS, {"events": batch})
    mine = await history(ContentType.MOVIES)
    assert (movie, InteractionKind.LIKED) in mine
    assert mine[(movie, InteractionKind.RATED)] == 3.0
    assert not await PendingInteraction.objects.aexists()


async def test_a_retried_batch_changes_nothing_twice(api: Api) -> None:
    movie = (await unseen(api, "movies"))[0]
    like, unlike = event("like", movie), event("unlike", movie)
    await api.post(EVENTS, {"events": [like]})
    await api.post(EVENTS, {"events": [unlike]})
    retried = await api.post(EVENTS, {"events": [like]})
    assert retried.status_code == 200
    assert retried.json()["duplicates"] == 1
    assert (movie, InteractionKind.LIKED) not in await history(ContentType.MOVIES)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param(event("rated", "tt800000001"), "value", id="rating-without-value"),
        pytest.param(event("rated", "tt800000001", value=6), "value", id="rating-above-its-scale"),
        pytest.param(event("rated", "tt800000001", value=0), "value", id="rating-of-zero"),
        # Its conversion to the type's scale would underflow to 0 (the schema's minimum is MIN_RATING).
        pytest.param(event("rated", "800000001", "anime", value=5e-324), "value", id="rating-too-small"),
        pytest.param(event("rated", "tt800000001", value=3, scale=1000), "scale", id="scale-too-large"),
        pytest.param(event("top_list_add", "800000001", "manga"), "rank", id="top-list-without-rank"),
        pytest.param(event("top_list_add", "800000001", "manga", rank=0), "rank", id="rank-zero"),
        pytest.param(event("top_list_add", "tt800000001", rank=1), "event", id="movies-have-no-top-list"),
        pytest.param(event("watchlist_add", "800000001", "anime"), "event", id="anime-have-no-watchlist"),
        pytest.param(event("watched", "800000001", "manga"), "event", id="manga-are-not-watched"),
        pytest.param(event("like", "tt800000001", value=1), "value", id="a-like-has-no-value"),
        pytest.param(event("view", "tt800000001", rank=3), "rank", id="a-view-has-no-rank"),
        pytest.param(event("like", "not-an-imdb-id"), "item_id", id="malformed-item-id"),
    ],
)
async def test_an_invalid_interaction_event_is_refused_naming_the_field(
    api: Api, payload: dict[str, Any], field: str
) -> None:
    response = await api.post(EVENTS, {"events": [event("view", "tt800000002"), payload]})
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid_event"
    assert error["details"] == {"index": 1, "field": field}
    assert not await RecommendationEvent.objects.aexists()
    assert not await PendingInteraction.objects.aexists()


async def test_an_item_outside_the_catalog_is_kept_as_an_event_and_changes_nothing(api: Api) -> None:
    response = await api.post(EVENTS, event("like", "tt0999999"))
    assert response.status_code == 201
    assert response.json()["pending"] == 0
    assert await RecommendationEvent.objects.filter(item_id="tt0999999").aexists()
    assert ("tt0999999", InteractionKind.LIKED) not in await history(ContentType.MOVIES)


async def test_the_stored_event_keeps_what_the_client_sent(api: Api) -> None:
    await api.post(EVENTS, event("rated", "tt800000003", value=7.5, scale=10))
    stored = await RecommendationEvent.objects.aget(item_id="tt800000003")
    assert (stored.event, stored.value, stored.scale, stored.rank) == ("rated", 7.5, 10.0, None)
    assert np.isclose((await history(ContentType.MOVIES))[("tt800000003", InteractionKind.RATED)], 3.75)
