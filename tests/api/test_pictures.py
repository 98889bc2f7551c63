"""Items carry ``image_url`` where the catalog has one: pages, lists, similar items, the app's common items."""

from __future__ import annotations

import pytest

from recommendations.data import get_interaction_store
from recommendations.data.seeding import generate_content
from recommendations.data.validation import image_url_or_none
from recommendations.domain import CatalogItem, ContentType
from tests.api.conftest import API_SPEC, Api

pytestmark = pytest.mark.usefixtures("seeded", "models")
PICTURES = {item.item_id: item.image_url for item in generate_content(API_SPEC, ContentType.ANIME).catalog}


def _checked(items: list[dict[str, object]]) -> None:
    assert items
    for item in items:
        assert item["image_url"] == PICTURES[str(item["item_id"])]


async def test_pages_lists_and_similar_items_carry_the_catalogs_pictures(api: Api) -> None:
    page = (await api.get("/v1/recommendations/anime/", limit=20)).json()
    _checked(page["items"])
    assert {item["image_url"] is None for item in page["items"]} == {True, False}  # half the seeded anime have one
    _checked((await api.get("/v1/recommendations/anime/popular/", limit=20)).json()["items"])
    similar = (await api.get(f"/v1/recommendations/anime/{page['items'][0]['item_id']}/similar/", limit=10)).json()
    _checked(similar["items"])
    movies = (await api.get("/v1/recommendations/movies/", limit=5)).json()
    assert all(item["image_url"] is None for item in movies["items"])  # MovieLens-like data: no pictures


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://cdn.myanimelist.net/images/anime/1223/96541l.jpg", True),
        ("http://example.org/a.png", True),
        ("", False),  # what MusicBud's importer writes for a missing picture
        ("javascript:alert(1)", False),
        ("data:image/png;base64,AAAA", False),
        ("https://example.org/a b.png", False),
        ("https://example.org/" + "a" * 1000, False),
    ],
)
def test_only_http_urls_are_pictures(value: str, kept: bool) -> None:
    assert image_url_or_none(value) == (value if kept else None)


@pytest.mark.usefixtures("transactional_db")
def test_a_catalog_write_keeps_a_picture_url_and_drops_anything_else() -> None:
    store = get_interaction_store()
    store.upsert_catalog(
        ContentType.MANGA,
        [CatalogItem("990001", "A", (), image_url="https://example.org/a.jpg"),
         CatalogItem("990002", "B", (), image_url="javascript:alert(1)")],
    )  # fmt: skip
    read = store.catalog_items(ContentType.MANGA, ["990001", "990002"])
    assert (read["990001"].image_url, read["990002"].image_url) == ("https://example.org/a.jpg", None)
