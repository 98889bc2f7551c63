"""The user lookup through the admin's real URLs: what one user gets now, as the API serves it, and who looked."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client, override_settings
from django.utils import timezone

from analytics.services import recommendation_events_record
from analytics.types import EventInput
from musicbud import graph
from privacy.models import ProfileLookup
from privacy.services import reference
from recommendations.data import get_interaction_store
from recommendations.domain import ContentType
from recommendations.experiments import assign_variant
from tests.admin.conftest import MemberApi, refused_to_member
from tests.api.conftest import SEEDED_USER_ID
from tests.api.test_buds import accounts
from tests.data.test_graph_outage import OUTAGE

__all__ = ["accounts"]
pytestmark = pytest.mark.usefixtures("seeded", "models")

LOOKUP = "/admin/privacy/profilelookup/lookup/"
AUDIT = "/admin/privacy/profilelookup/"
EXPERIMENT = {"name": "lookup-test", "variants": {"control": 0.5, "popular": 0.5}}


def section(page: str, name: str) -> str:
    start = page.index(f'id="lookup-{name}"')
    return page[start : page.index("</section>", start)]


def rows(html: str, attribute: str = "data-item-id") -> list[str]:
    return re.findall(rf'{attribute}="([^"]+)"', html)


def table(html: str, css_class: str) -> str:
    start = html.index(f'class="operator-table {css_class}"')
    return html[start : html.index("</table>", start)]


@pytest.mark.usefixtures("accounts")
@override_settings(RECOMMENDATIONS_EXPERIMENT=EXPERIMENT)
def test_by_username_staff_see_what_the_api_serves_the_user_with_history_buds_variant_and_events(
    operator_client: Client, member_api: MemberApi
) -> None:
    at = timezone.now() - timedelta(minutes=5)
    events = [
        EventInput(client_event_id=f"e{n}", content_type="movies", item_id=f"tt80000000{n}", event="view",
                   position=n, created_at=at + timedelta(seconds=n))
        for n in range(1, 4)
    ]  # fmt: skip
    async_to_sync(recommendation_events_record)(user_id=SEEDED_USER_ID, events=events)

    response = operator_client.get(LOOKUP, {"user": f"user{SEEDED_USER_ID}"})

    assert response.status_code == 200
    page = response.content.decode()
    for ct in ContentType:
        api_page = member_api.json(f"/v1/recommendations/{ct.value}/", limit=10)
        shown = section(page, ct.value)
        assert rows(table(shown, "recommendations")) == [item["item_id"] for item in api_page["items"]], ct
        assert f"source {api_page['source']}, model {api_page['model_version']}, variant {api_page['variant']}" in shown
        first = api_page["items"][0]
        assert f"<td>{first['score']:.4f}</td>" in shown
        history = get_interaction_store().user_history(ct, SEEDED_USER_ID)
        latest = [str(history.item_ids[i]) for i in history.timestamps.argsort(kind="stable")[::-1][:15]]
        assert rows(table(shown, "history")) == latest
        assert f"{len(history)} in all" in shown
    assert "because they liked" in section(page, "movies")
    buds = member_api.json("/v1/recommendations/buds/", type="all", limit=10)["buds"]
    assert rows(section(page, "buds"), "data-user-id") == [str(bud["user_id"]) for bud in buds]
    assert len(buds) == 10
    assert f'<strong id="lookup-variant">{assign_variant(SEEDED_USER_ID)}</strong>' in page
    assert rows(section(page, "events"), "data-event-id") == ["e3", "e2", "e1"]


def test_every_look_is_recorded_and_logged_with_the_users_reference_not_their_id(
    operator_client: Client, operator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="privacy.lookup"):
        operator_client.get(LOOKUP, {"user": "7"})
        operator_client.get(LOOKUP, {"user": "7"})
    looks = ProfileLookup.objects.order_by("looked_at")
    assert [(look.viewer_id, look.viewer_username, look.subject_id) for look in looks] == [
        (operator.pk, "operator", 7),
        (operator.pk, "operator", 7),
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "privacy.lookup"]
    assert logged == [f"staff user {operator.pk} looked at the profile of user ref {reference(7)}"] * 2
    audit = operator_client.get(AUDIT).content.decode()
    assert audit.count('<td class="field-subject_id">7</td>') == 2


def test_a_user_id_without_an_account_is_shown_too(operator_client: Client) -> None:
    page = operator_client.get(LOOKUP, {"user": "7"}).content.decode()
    assert "No account here" in page
    assert len(rows(table(section(page, "anime"), "recommendations"))) == 10


def test_unknown_or_malformed_users_are_form_errors_and_no_look_is_recorded(operator_client: Client) -> None:
    for query, error in (
        ("nobody", "No user has this id or username. (user_not_found)"),
        ("0", "(invalid_user_id)"),
        ("99999999999999999999", "(invalid_user_id)"),
        ("", "This field is required."),
    ):
        response = operator_client.get(LOOKUP, {"user": query})
        assert response.status_code == 200
        assert error in response.content.decode(), query
    assert "Look up a user" in operator_client.get(LOOKUP).content.decode()  # the empty form, no error
    assert not ProfileLookup.objects.exists()


def test_members_go_to_the_login_page_and_staff_without_the_right_are_refused(
    operator_client: Client, member_client: Client, bare_staff_client: Client, viewer_client: Client
) -> None:
    for client in (member_client,):
        assert refused_to_member(client.get(LOOKUP, {"user": "7"}))
        assert refused_to_member(client.get(AUDIT))
    assert bare_staff_client.get(LOOKUP, {"user": "7"}).status_code == 403
    assert viewer_client.get(LOOKUP, {"user": "7"}).status_code == 403
    assert bare_staff_client.get(AUDIT).status_code == 403
    assert not ProfileLookup.objects.exists()
    assert "Look up a user</a>" in operator_client.get(AUDIT).content.decode()


def test_with_the_graph_down_the_page_shows_which_parts_failed_and_the_rest(
    operator_client: Client, settings: Any
) -> None:
    settings.RECOMMENDATIONS_SOURCE = "neo4j"
    graph.close_sync_driver()
    try:
        with override_settings(**OUTAGE):
            response = operator_client.get(LOOKUP, {"user": "7"})
    finally:
        graph.close_sync_driver()
    assert response.status_code == 200
    movies = section(response.content.decode(), "movies")
    assert "(graph_unavailable)" in movies
    # Served from the model's copy of the history, as the API does while the graph is down.
    assert len(rows(table(movies, "recommendations"))) == 10


def test_the_user_list_links_each_user_to_their_lookup(admin_client: Client, admin_user: Any) -> None:
    page = admin_client.get("/admin/auth/user/").content.decode()
    assert f'<a href="{LOOKUP}?user={admin_user.pk}">look up</a>' in page
