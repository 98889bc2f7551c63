"""The operator's pages in a real headless Chromium: an item hidden on the catalog page is gone from the user
lookup's recommendations.

Needs Debian's chromium (scripts/install_chromium.sh) and the playwright package; skips without them, fails
without them under MUSICBUD_REQUIRE_SERVICES=1 (``make test``). With ``MUSICBUD_SCREENSHOTS=<folder>`` the pages
are saved there (``operator-*.jpg``); docs/img's admin pages come from tests/admin/test_admin_at_1366.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from recommendations.models import HiddenItem
from tests.analytics.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, browser_available
from tests.api.conftest import PASSWORD, SEEDED_USER_ID, make_user

__all__ = ["browser_available"]
pytestmark = pytest.mark.usefixtures("browser_available", "seeded", "models")

RECOMMENDED = "#lookup-movies table.recommendations tbody tr[data-item-id]"


@pytest.fixture
def boss(django_user_model: Any) -> Any:
    make_user(SEEDED_USER_ID)
    return django_user_model.objects.create_superuser(id=9100, username="boss", password=PASSWORD, email="b@x.org")


def test_an_item_hidden_on_the_catalog_page_is_gone_from_the_user_lookups_recommendations(
    live_server: Any, boss: Any, tmp_path: Path
) -> None:
    # Seeding is done: the ORM must not run while Playwright's event loop lives in this thread.
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("MUSICBUD_SCREENSHOTS") or tmp_path)
    lookup = f"{live_server.url}/admin/privacy/profilelookup/lookup/?user=user{SEEDED_USER_ID}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", boss.username)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#content-main")

            page.goto(lookup)
            before = page.eval_on_selector_all(RECOMMENDED, "rows => rows.map(r => r.dataset.itemId)")
            page.screenshot(path=str(shots / "operator-user-lookup.jpg"), quality=55)
            target = before[0]

            page.goto(f"{live_server.url}/admin/recommendations/catalogentry/?type=movies&q={target}")
            page.check(f'#catalog-results input[name=item_ids][value="{target}"]')
            page.select_option("#catalog-actions select[name=action]", "hide")
            page.fill("#catalog-actions input[name=reason]", "browser test")
            page.click("#catalog-actions button[name=apply]")
            page.wait_for_selector("ul.messagelist li.success")
            message = page.inner_text("ul.messagelist li.success")
            hidden_row = page.get_attribute(f'#catalog-results tr[data-item-id="{target}"]', "class")
            page.screenshot(path=str(shots / "operator-catalog.jpg"), quality=55)

            page.goto(f"{live_server.url}/admin/recommendations/catalogentry/movies/{before[1]}/")
            page.wait_for_selector("#item-similar")
            page.screenshot(path=str(shots / "operator-catalog-item.jpg"), quality=55, full_page=True)

            page.goto(lookup)
            after = page.eval_on_selector_all(RECOMMENDED, "rows => rows.map(r => r.dataset.itemId)")

            page.goto(f"{live_server.url}/admin/recommendations/servedmodel/")
            page.wait_for_selector("#models-movies")
            page.screenshot(path=str(shots / "operator-models.jpg"), quality=55)
        finally:
            browser.close()

    assert len(before) == 10
    assert message == f"Hid 1 movies item(s): {target}."
    assert hidden_row == "is-hidden"
    assert target not in after
    assert after[:9] == before[1:]
    assert list(HiddenItem.objects.values_list("item_id", "reason", "hidden_by")) == [(target, "browser test", boss.pk)]
    assert (shots / "operator-catalog.jpg").stat().st_size > 10_000
