"""The MusicBud app's bud calls, one contract test per call: the request as the Dart code builds it, and what its
``fromJson`` reads (tests/api/dart_readers.py mirrors those factories). Files are musicbud/flutter's at ``31c49e7``.

- The bud lists: ``lib/data/data_sources/remote/bud_matching_remote_data_source.dart`` posts to
  ``ApiConfig.budTop*`` / ``budLiked*`` / ``budPlayedTracks`` (``lib/config/api_config.dart``) with no body, and
  ``lib/data/repositories/bud_matching_repository_impl.dart`` reads ``BudSearchResult.fromJson``
  (``lib/models/bud_search_result.dart``).
- The common items: ``lib/data/data_sources/remote/common_items_remote_data_source_impl.dart`` posts JSON with
  ``bud_id`` (liked tracks) or ``username`` (top anime, top manga) and decodes a list of ``CommonAnime`` /
  ``CommonManga`` (``lib/models/common_anime.dart``, ``common_manga.dart``), or a ``results`` list (liked tracks).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from recommendations.buds import set_bud_visibility
from recommendations.models import PublicUserId
from tests.api.conftest import API_SPEC, SEEDED_USER_ID, Api, make_user, obtain_tokens
from tests.api.dart_readers import read_bud_search_result, read_common_list
from tests.conftest import asgi_client

pytestmark = pytest.mark.usefixtures("seeded", "models", "accounts")
UID = re.compile(r"[0-9a-f]{32}")
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}

# (Dart method of BudMatchingRemoteDataSourceImpl, ApiConfig getter's path, what we serve there). The app posts to
# the URL of its endpoint map first (assets/endpoints_map.json through lib/services/endpoint_config_service.dart:
# MusicBud's backend's own paths, no /v1, mostly no trailing slash), to the ApiConfig path when the map lacks it.
BUDS = [
    ("findBudsByTopArtists", "/v1/bud/top/artists/", "/bud/top/artists/", None),
    ("findBudsByTopTracks", "/v1/bud/top/tracks/", "/bud/top/tracks", None),
    ("findBudsByTopGenres", "/v1/bud/top/genres/", "/bud/top/genres", None),
    ("findBudsByTopAnime", "/v1/bud/top/anime/", "/bud/top/anime", "anime"),
    ("findBudsByTopManga", "/v1/bud/top/manga/", "/bud/top/manga", "manga"),
    ("findBudsByLikedArtists", "/v1/bud/liked/artists/", "/bud/liked/artists", None),
    ("findBudsByLikedTracks", "/v1/bud/liked/tracks/", "/bud/liked/tracks", None),
    ("findBudsByLikedGenres", "/v1/bud/liked/genres/", "/bud/liked/genres", None),
    ("findBudsByLikedAlbums", "/v1/bud/liked/albums/", "/bud/liked/albums", None),
    ("findBudsByLikedAio", "/v1/bud/liked/aio/", "/bud/liked/aio", None),
    ("findBudsByPlayedTracks", "/v1/bud/played/tracks/", "/bud/played/tracks", None),
]
BUD_CALLS = [
    (f"{name} ({source})", path, served)
    for name, config_path, map_path, served in BUDS
    for source, path in (("ApiConfig", config_path), ("endpoints_map", map_path))
]
# (Dart method of CommonItemsRemoteDataSourceImpl, ApiConfig path, endpoint map path, the body key it sends, how the
# body is decoded)
COMMONS = [
    ("getCommonLikedTracks", "/v1/bud/common/liked/tracks/", "/bud/common/liked/tracks", "bud_id", "results"),
    ("getCommonLikedArtists", "/v1/bud/common/liked/artists/", "/bud/common/liked/artists", "bud_id", "list"),
    ("getCommonLikedAlbums", "/v1/bud/common/liked/albums/", "/bud/common/liked/albums", "bud_id", "list"),
    ("getCommonLikedGenres", "/v1/bud/common/liked/genres/", "/bud/common/liked/genres", "bud_id", "list"),
    ("getCommonPlayedTracks", "/v1/bud/common/played/tracks/", "/bud/common/played/tracks", "bud_id", "list"),
    ("getCommonTopArtists", "/v1/bud/common/top/artists/", "/bud/common/top/artists", "bud_id", "list"),
    ("getCommonTopTracks", "/v1/bud/common/top/tracks/", "/bud/common/top/tracks", "bud_id", "list"),
    ("getCommonTopGenres", "/v1/bud/common/top/genres/", "/bud/common/top/genres", "bud_id", "list"),
    ("getCommonTopAnime", "/v1/bud/common/top/anime/", "/bud/common/top/anime", "username", "anime"),
    ("getCommonTopManga", "/v1/bud/common/top/manga/", "/bud/common/top/manga", "username", "manga"),
    # MusicBud's backend and its Postman collection name the bud by bud_id in those two calls too.
    ("getCommonTopAnime by bud_id", "/v1/bud/common/top/anime/", "/bud/common/top/anime", "bud_id", "anime"),
    ("getCommonTopManga by bud_id", "/v1/bud/common/top/manga/", "/bud/common/top/manga", "bud_id", "manga"),
]
COMMON_CALLS = [
    (f"{name} ({source})", path, key, shape)
    for name, config_path, map_path, key, shape in COMMONS
    for source, path in (("ApiConfig", config_path), ("endpoints_map", map_path))
]


@pytest.fixture
def accounts(transactional_db: None) -> None:
    get_user_model().objects.bulk_create(
        get_user_model()(id=n, username=f"user{n}", password="!") for n in range(1, API_SPEC.users + 1)
        if n != SEEDED_USER_ID
    )  # fmt: skip


@pytest.fixture
async def app() -> Api:
    await sync_to_async(make_user)(SEEDED_USER_ID)
    client = asgi_client()
    return Api(client, (await obtain_tokens(client, f"user{SEEDED_USER_ID}"))["access"])


async def post(app: Api, path: str, body: dict[str, Any] | None = None) -> Any:
    """As the app posts: Dio's post(url) sends no body; http.post sends the JSON-encoded map."""
    if body is None:
        return await app.client.post(path, headers=app.headers)
    return await app.client.post(path, json=body, headers={**HEADERS, **app.headers})


@pytest.mark.parametrize(("dart_method", "path", "served"), BUD_CALLS, ids=[c[0] for c in BUD_CALLS])
async def test_each_bud_list_call_answers_what_bud_search_result_reads(
    app: Api, dart_method: str, path: str, served: str | None
) -> None:
    response = await post(app, path)
    assert response.status_code == 200, response.content
    result = read_bud_search_result(response.json())
    assert (result["code"], result["successful"]) == (200, True)
    buds = result["data"]["buds"]
    if served is None:
        assert buds == []  # music: not served yet, an empty list and no error
        return
    ours = (await app.get("/v1/recommendations/buds/", type=served)).json()["buds"]
    assert ours, "the seeded caller has buds"
    assert [bud["display_name"] for bud in buds] == [bud["username"] for bud in ours]
    assert all(bud["is_active"] is True for bud in buds)
    # The public id: 32 hex digits, stable, never the database key.
    uids = {row.user_id: row.uid async for row in PublicUserId.objects.all()}
    assert [bud["uid"] for bud in buds] == [uids[bud["user_id"]] for bud in ours]
    assert all(UID.fullmatch(bud["uid"]) for bud in buds)
    again = read_bud_search_result((await post(app, path)).json())
    assert [bud["uid"] for bud in again["data"]["buds"]] == [bud["uid"] for bud in buds]


@pytest.mark.parametrize(("dart_method", "path", "key", "shape"), COMMON_CALLS, ids=[c[0] for c in COMMON_CALLS])
async def test_each_common_items_call_answers_what_its_model_reads(
    app: Api, dart_method: str, path: str, key: str, shape: str
) -> None:
    served = shape if shape in ("anime", "manga") else "anime"
    listed = read_bud_search_result((await post(app, f"/v1/bud/top/{served}/")).json())["data"]["buds"]
    bud = listed[0]
    ours = (await app.get("/v1/recommendations/buds/", type=served)).json()["buds"][0]
    body = {"bud_id": bud["uid"]} if key == "bud_id" else {"username": bud["display_name"]}
    response = await post(app, path, body)
    assert response.status_code == 200, response.content
    if shape == "results":
        assert response.json()["results"] == []  # responseData['results'] as List? ?? []: music, none yet
        return
    if shape == "list":
        assert read_common_list(response.json(), extra_ints=()) == []
        return
    items = read_common_list(response.json(), extra_ints=("episodes",) if shape == "anime" else ("chapters", "volumes"))
    assert items, "the caller and their first bud have items in common"
    # What both like most first: the bud list's reasons are the head of the full list.
    assert [item["id"] for item in items[: len(ours["common_items"])]] == [c["item_id"] for c in ours["common_items"]]
    assert all(item["title"] and item["mal_id"] == item["id"] for item in items)


async def test_an_unknown_bud_is_404_and_a_missing_one_400(app: Api) -> None:
    unknown = await post(app, "/v1/bud/common/top/anime/", {"bud_id": "0" * 32})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "bud_not_found")
    itself = await post(app, "/v1/bud/common/top/anime/", {"username": f"user{SEEDED_USER_ID}"})
    assert itself.status_code == 404
    missing = await post(app, "/v1/bud/common/top/anime/", {})
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "invalid_input")


async def test_a_bud_hidden_from_buds_has_no_common_items_to_show(app: Api) -> None:
    bud = read_bud_search_result((await post(app, "/v1/bud/top/anime/")).json())["data"]["buds"][0]
    other = await get_user_model().objects.aget(username=bud["display_name"])
    # The seeded accounts cannot log in: the bud opts out through the domain function the API calls.
    await set_bud_visibility(user_id=other.pk, visible=False)
    refused = await post(app, "/v1/bud/common/top/anime/", {"bud_id": bud["uid"]})
    assert refused.status_code == 404
    after = read_bud_search_result((await post(app, "/v1/bud/top/anime/")).json())["data"]["buds"]
    assert bud["uid"] not in [b["uid"] for b in after]


@pytest.mark.parametrize("path", ["/v1/bud/top/movies/", "/v1/bud/liked/anime/", "/v1/bud/common/played/anime/"])
async def test_a_kind_the_app_never_calls_is_404(app: Api, path: str) -> None:
    response = await post(app, path, {"bud_id": "x"})
    assert response.status_code == 404


async def test_the_bud_calls_need_a_token(app: Api) -> None:
    response = await asgi_client().post("/v1/bud/top/anime/")
    assert response.status_code == 401
