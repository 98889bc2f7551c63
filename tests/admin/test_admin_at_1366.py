"""The admin, as an operator meets it after `make demo`, readable on a 1366 px laptop screen.

The demo's steps in a scratch folder and the real server (``tests/ops/demo_support.py``), then every operator page
in headless Chromium at 1366 x 768: nothing wider than the window (no column cut off), no raw float, every date
ISO with its time zone, the index leading to the dashboard and the models page, no link to a page that is a 404.

Needs Debian's chromium (scripts/install_chromium.sh) and the playwright package; skips without them, fails
without them under MUSICBUD_REQUIRE_SERVICES=1. With ``MUSICBUD_SCREENSHOTS=<folder>`` the pages are saved there
(JPEG): ``MUSICBUD_SCREENSHOTS=docs/img .venv/bin/pytest tests/admin/test_admin_at_1366.py`` makes docs/img's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.analytics.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, browser_available
from tests.ops.demo_support import Demo, running_demo

__all__ = ["browser_available"]
pytestmark = pytest.mark.usefixtures("browser_available")

WIDTH, HEIGHT = 1366, 768
HIDDEN = "tt800000003"  # on the catalog's first page
# A float printed as Python prints it: more decimals than anyone reads (0.049749999999999996).
RAW_FLOAT = re.compile(r"(?<![\w.-])\d+\.\d{5,}(?![\w-])")
# Django's default English dates ("Dec. 8, 2026, 12:31 a.m.") and a clock time without a zone after it.
US_DATE = re.compile(r"\b(?:Jan|Feb|March|April|May|June|July|Aug|Sept|Oct|Nov|Dec)\.? \d{1,2}, \d{4}|[ap]\.m\.")
ZONELESS_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?(?!:)(?! ?(?:UTC|\+00:00|Z\b))")

CHECKS = (
    (RAW_FLOAT, "raw float"),
    (US_DATE, "non-ISO date"),
    (ZONELESS_TIME, "time without zone"),
    (re.compile(r"UTC\s+UTC"), "zone written twice"),
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("admin-demo")) as started:
        yield started


def _pages(demo: Demo) -> list[tuple[str, str]]:
    """(screenshot name, path) of every operator page, with the demo's ids."""
    similar = re.search(r"/v1/recommendations/movies/(tt\d+)/similar/", demo.output)
    assert similar, demo.output[-2000:]
    return [
        ("admin-index", "/admin/"),
        ("admin-dashboard", "/admin/analytics/dailymetric/dashboard/?days=30"),
        ("admin-daily-metrics", "/admin/analytics/dailymetric/"),
        ("admin-models", "/admin/recommendations/servedmodel/"),
        ("admin-training-logs", "/admin/recommendations/traininglog/"),
        ("admin-catalog", "/admin/recommendations/catalogentry/?type=movies"),
        ("admin-catalog-item", f"/admin/recommendations/catalogentry/movies/{similar.group(1)}/"),
        ("admin-user-lookup", "/admin/privacy/profilelookup/lookup/?user=demo"),
        ("admin-events", "/admin/analytics/recommendationevent/"),
    ]


def _checked(page: Any, name: str, shots: Path) -> dict[str, Any]:
    """What a page shows at 1366 px: its width against the window's, its text, its links."""
    full = name in ("admin-catalog-item", "admin-user-lookup", "admin-models", "admin-dashboard")
    page.screenshot(path=str(shots / f"{name}.jpg"), quality=50 if full else 60, full_page=full)
    found: dict[str, Any] = page.evaluate(
        """() => ({
            scrollWidth: document.documentElement.scrollWidth,
            widest: Math.max(0, ...[...document.querySelectorAll('#content table')].map(
                t => t.getBoundingClientRect().right)),
            // A table wider than the box that scrolls it (Django's changelist) has columns out of sight.
            hidden: Math.max(0, ...[...document.querySelectorAll('#content table')].map(t => {
                const box = t.closest('.results') || t.parentElement;
                return t.getBoundingClientRect().right - box.getBoundingClientRect().right;
            })),
            text: document.body.innerText,
            links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
        })"""
    )
    return found


def test_every_operator_page_fits_1366px_with_rounded_numbers_and_iso_utc_dates(demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("MUSICBUD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    seen: dict[str, dict[str, Any]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(f"{demo.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", demo.passwords()["admin"])
            page.click("input[type=submit]")
            page.wait_for_selector("#content-main")
            # An operator hides an item on the catalog page, as docs/operations.md shows it.
            page.goto(f"{demo.url}/admin/recommendations/catalogentry/?type=movies")
            page.check(f'#catalog-results input[name=item_ids][value="{HIDDEN}"]')
            page.select_option("#catalog-actions select[name=action]", "hide")
            page.fill("#catalog-actions input[name=reason]", "takedown request 42")
            page.click("#catalog-actions button[name=apply]")
            page.wait_for_selector("ul.messagelist li.success")
            for name, path in _pages(demo):
                response = page.goto(f"{demo.url}{path}")
                assert response is not None
                assert response.status == 200, f"{path}: {response.status}"
                seen[name] = found = _checked(page, name, shots)
                if found["scrollWidth"] > WIDTH or found["widest"] > WIDTH or found["hidden"] > 1:
                    problems.append(
                        f"{path}: {found['scrollWidth']} px wide, a table to {found['widest']:.0f} px, "
                        f"{found['hidden']:.0f} px of a table out of its box"
                    )
                for pattern, what in (
                    (RAW_FLOAT, "raw float"),
                    (US_DATE, "non-ISO date"),
                    (ZONELESS_TIME, "time without zone"),
                ):
                    if hits := pattern.findall(found["text"]):
                        problems.append(f"{path}: {what} {sorted(set(hits))[:5]}")
        finally:
            browser.close()
    assert not problems, "\n".join(problems)

    index_links = seen["admin-index"]["links"]
    assert "/admin/analytics/dailymetric/dashboard/" in index_links
    assert "/admin/recommendations/servedmodel/" in index_links
    every_link = {link for found in seen.values() for link in found["links"] if link.startswith("/")}
    assert "/" not in every_link  # "View site": the service has no page at /
    broken = [link for link in sorted(every_link) if _status(demo, link) == 404]
    assert not broken, broken


def _status(demo: Demo, link: str) -> int:
    # Anonymous: a page behind the login answers a redirect, a page that does not exist a 404.
    return httpx.get(f"{demo.url}{link}", timeout=30).status_code
