"""The catalog pages through the admin's real URLs: search, filters, the item page, hide and un-hide."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count
from django.test import Client

from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType, InteractionKind
from recommendations.models import HiddenItem, Interaction
from tests.admin.conftest import MemberApi, cells, messages_of, refused_to_member
from tests.api.conftest import API_SPEC

pytestmark = pytest.mark.usefixtures("seeded", "models")

CATALOG = "/admin/recommendations/catalogentry/"
HIDE = CATALOG + "hide/"
MOVIES = generate_content(API_SPEC, ContentType.MOVIES).catalog


def item_page(item_id: str, content_type: str = "movies") -> str:
    return f"{CATALOG}{content_type}/{item_id}/"


def search(client: Client, **query: Any) -> list[str]:
    response = client.get(CATALOG, {"type": "movies", **query})
    assert response.status_code == 200
    return cells(response.content.decode(), "results")


def test_staff_find_items_by_a_part_of_the_title_in_any_letter_case(operator_client: Client) -> None:
    expected = [item.item_id for item in MOVIES if "crimson riv" in item.title.lower()]
    assert 0 < len(expected) < len(MOVIES)
    assert search(operator_client, q="cRiMsOn RIV") == expected


def test_a_part_of_an_id_matches_and_the_exact_id_comes_first(operator_client: Client) -> None:
    assert search(operator_client, q="tt80000001") == [f"tt80000001{n}" for n in range(10)]
    found = search(operator_client, q="TT800000012")
    assert found[0] == "tt800000012"
    assert set(found) == {item.item_id for item in MOVIES if "tt800000012" in item.item_id}


def test_the_type_filter_searches_that_types_catalog(operator_client: Client) -> None:
    anime = generate_content(API_SPEC, ContentType.ANIME).catalog
    assert search(operator_client, type="anime", q="800000001")[0] == anime[0].item_id


def test_the_genre_filter_keeps_that_genre_and_an_unknown_genre_is_a_form_error(operator_client: Client) -> None:
    westerns = [item.item_id for item in MOVIES if "Western" in item.genres]
    assert search(operator_client, genre="western") == westerns[:50]

    response = operator_client.get(CATALOG, {"type": "movies", "genre": "Polka"})
    assert response.status_code == 200
    assert "movies have no genre &#x27;Polka&#x27;" in response.content.decode()
    assert cells(response.content.decode(), "results") == []


def test_results_are_paged_fifty_at_a_time(operator_client: Client) -> None:
    first, third = search(operator_client), search(operator_client, page=3)
    assert first == [item.item_id for item in MOVIES[:50]]
    assert third == [item.item_id for item in MOVIES[100:]]
    assert search(operator_client, page=99) == third  # past the end: the last page


def test_bad_query_values_are_form_errors_never_a_500(operator_client: Client) -> None:
    response = operator_client.get(CATALOG, {"type": "books", "page": "-3", "q": "x" * 500})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('class="errorlist') >= 1
    assert "type: Select a valid choice" in page
    assert "page: Ensure this value is greater than or equal to 1" in page


def test_the_hidden_filter_lists_hidden_or_visible_items_only(operator_client: Client) -> None:
    hidden = MOVIES[3].item_id
    response = operator_client.post(HIDE, {"action": "hide", "content_type": "movies", "item_ids": [hidden]})
    assert response.status_code == 302

    assert search(operator_client, hidden="yes") == [hidden]
    visible = search(operator_client, hidden="no", page=1)
    assert hidden not in visible
    assert len(visible) == 50


def test_hiding_from_the_list_marks_the_items_and_records_who_when_and_why(
    operator_client: Client, operator: Any
) -> None:
    chosen = [MOVIES[0].item_id, MOVIES[1].item_id]
    response = operator_client.post(
        HIDE,
        {"action": "hide", "content_type": "movies", "item_ids": chosen, "reason": "licence ended",
         "next": CATALOG + "?type=movies&q=river"},
        follow=True,
    )  # fmt: skip
    assert response.redirect_chain[-1][0] == CATALOG + "?type=movies&q=river"
    assert messages_of(response) == [f"Hid 2 movies item(s): {chosen[0]}, {chosen[1]}."]
    rows = HiddenItem.objects.filter(content_type="movies").order_by("item_id")
    assert [(r.item_id, r.hidden_by_id, r.reason) for r in rows] == [(i, operator.pk, "licence ended") for i in chosen]
    page = response.content.decode()
    assert page.count('class="is-hidden"') == 2
    assert "licence ended" in page

    again = operator_client.post(
        HIDE, {"action": "hide", "content_type": "movies", "item_ids": chosen[:1]}, follow=True
    )
    assert messages_of(again) == ["Hid 0 movies item(s) (1 already hidden)."]


def test_hiding_an_id_the_catalog_lacks_changes_nothing_and_says_why(operator_client: Client) -> None:
    response = operator_client.post(
        HIDE, {"action": "hide", "content_type": "movies", "item_ids": [MOVIES[0].item_id, "tt0000042"]}, follow=True
    )
    assert response.status_code == 200
    (message,) = messages_of(response)
    assert message.startswith("Nothing changed: 1 of the ids are not in the movies catalog.")
    assert message.endswith("(item_not_found)")
    assert not HiddenItem.objects.exists()


def test_malformed_hide_requests_are_messages(operator_client: Client) -> None:
    no_items = operator_client.post(HIDE, {"action": "hide", "content_type": "movies"}, follow=True)
    assert messages_of(no_items) == ["item_ids: Select at least one item."]
    bad_id = operator_client.post(
        HIDE, {"action": "hide", "content_type": "movies", "item_ids": ["12345"]}, follow=True
    )
    assert messages_of(bad_id) == ["Nothing changed: '12345' is not an IMDb id like tt0000001. (invalid_item_id)"]
    bad_action = operator_client.post(
        HIDE, {"action": "delete", "content_type": "movies", "item_ids": [MOVIES[0].item_id]}, follow=True
    )
    assert messages_of(bad_action)[0].startswith("action: Select a valid choice.")
    assert not HiddenItem.objects.exists()


def test_next_never_sends_staff_off_the_site(operator_client: Client) -> None:
    response = operator_client.post(
        HIDE,
        {"action": "hide", "content_type": "movies", "item_ids": [MOVIES[0].item_id], "next": "https://evil.example/"},
    )
    assert response["Location"] == CATALOG


def test_the_item_page_counts_interactions_per_kind_and_shows_the_served_models_similar_items(
    operator_client: Client, member_api: MemberApi
) -> None:
    item = MOVIES[0]
    response = operator_client.get(item_page(item.item_id))
    assert response.status_code == 200
    page = response.content.decode()
    assert item.title in page

    rows = Interaction.objects.filter(content_type="movies", item__external_id=item.item_id)
    per_kind = rows.values("kind").annotate(n=Count("id"))
    expected = {InteractionKind(row["kind"]).name.lower(): row["n"] for row in per_kind}
    shown = response.context["details"]
    assert shown.interactions == expected
    assert shown.users == rows.values("user_id").distinct().count()
    assert sum(expected.values()) > 0
    for kind, count in expected.items():
        assert f"<tr><td>{kind}</td><td>{count}</td></tr>" in page

    from_api = member_api.json(f"/v1/recommendations/movies/{item.item_id}/similar/", limit=10)
    assert cells(page, "similar") == [entry["item_id"] for entry in from_api["items"]]
    assert from_api["model_version"] in page


def test_an_item_the_catalog_lacks_is_a_404_page_with_a_message(operator_client: Client) -> None:
    missing = operator_client.get(item_page("tt0000042"))
    assert missing.status_code == 404
    assert messages_of(missing) == ["The item is not in the catalog. (item_not_found)"]
    malformed = operator_client.get(item_page("not-an-id"))
    assert malformed.status_code == 404
    assert messages_of(malformed)[0].endswith("(invalid_item_id)")
    wrong_type = operator_client.get(item_page("1", "books"))
    assert wrong_type.status_code == 404
    assert messages_of(wrong_type) == ["Unknown content type 'books'."]


def test_un_hiding_from_the_item_page_puts_the_item_back(operator_client: Client) -> None:
    item_id = MOVIES[5].item_id
    operator_client.post(HIDE, {"action": "hide", "content_type": "movies", "item_ids": [item_id]})
    hidden_page = operator_client.get(item_page(item_id)).content.decode()
    assert "It is in no list, page or similar items until it is un-hidden." in hidden_page
    assert '<input type="hidden" name="action" value="unhide">' in hidden_page

    response = operator_client.post(
        HIDE, {"action": "unhide", "content_type": "movies", "item_ids": [item_id], "next": item_page(item_id)},
        follow=True,
    )  # fmt: skip
    assert messages_of(response) == [f"Un-hid 1 movies item(s): {item_id}."]
    assert "in circulation" in response.content.decode()
    assert not HiddenItem.objects.exists()


def test_members_are_sent_to_the_login_page_and_staff_without_rights_are_refused(
    member_client: Client, bare_staff_client: Client, viewer_client: Client
) -> None:
    for url in (CATALOG, item_page(MOVIES[0].item_id)):
        assert refused_to_member(member_client.get(url))
        assert bare_staff_client.get(url).status_code == 403
        assert viewer_client.get(url).status_code == 200
    post = {"action": "hide", "content_type": "movies", "item_ids": [MOVIES[0].item_id]}
    assert refused_to_member(member_client.post(HIDE, post))
    assert viewer_client.post(HIDE, post).status_code == 403
    assert 'name="item_ids"' not in viewer_client.get(CATALOG).content.decode()  # no checkboxes to act with
    assert not HiddenItem.objects.exists()


def test_the_catalog_shows_each_items_picture_where_it_has_one(operator_client: Client) -> None:
    anime = generate_content(API_SPEC, ContentType.ANIME).catalog
    with_picture = next(item for item in anime if item.image_url)
    without = next(item for item in anime if not item.image_url)
    listing = operator_client.get(CATALOG, {"type": "anime", "q": with_picture.item_id}).content.decode()
    assert f'<img src="{with_picture.image_url}"' in listing
    page = operator_client.get(item_page(with_picture.item_id, "anime")).content.decode()
    assert f'<img src="{with_picture.image_url}"' in page
    bare = operator_client.get(item_page(without.item_id, "anime")).content.decode()
    assert 'class="catalog-picture"' not in bare.split('id="item-similar"')[0]
