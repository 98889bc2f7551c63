"""The catalog pages and hiding work the same when the catalog lives in Neo4j (RECOMMENDATIONS_SOURCE=neo4j)."""

from __future__ import annotations

import pytest
from django.test import Client

from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from recommendations.models import Item
from tests.admin.conftest import MemberApi, cells, messages_of
from tests.api.conftest import API_SPEC
from tests.api.test_neo4j_source import graph_source

__all__ = ["graph_source"]
pytestmark = pytest.mark.usefixtures("graph_source", "models")

CATALOG = "/admin/recommendations/catalogentry/"
ANIME = generate_content(API_SPEC, ContentType.ANIME).catalog


def test_search_the_item_page_and_hiding_read_the_graphs_catalog(
    operator_client: Client, member_api: MemberApi
) -> None:
    assert not Item.objects.exists()  # nothing in the built-in store: every row comes from the graph
    expected = [item.item_id for item in ANIME if "golden" in item.title.lower()]
    response = operator_client.get(CATALOG, {"type": "anime", "q": "GOLDEN"})
    assert cells(response.content.decode(), "results") == expected

    top = member_api.json("/v1/recommendations/anime/", limit=10)["items"][0]["item_id"]
    details = operator_client.get(f"{CATALOG}anime/{top}/").context["details"]
    assert details.item.title == next(item.title for item in ANIME if item.item_id == top)
    assert sum(details.interactions.values()) > 0
    assert len(details.similar.items) == 10

    hidden = operator_client.post(
        CATALOG + "hide/", {"action": "hide", "content_type": "anime", "item_ids": [top]}, follow=True
    )
    assert messages_of(hidden) == [f"Hid 1 anime item(s): {top}."]
    after = member_api.json("/v1/recommendations/anime/", limit=10)["items"]
    assert top not in [item["item_id"] for item in after]
    assert cells(operator_client.get(CATALOG, {"type": "anime", "hidden": "yes"}).content.decode(), "results") == [top]
