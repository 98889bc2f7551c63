"""The metrics dashboard in a real headless Chromium: staff log in through the admin form, charts draw.

Needs Debian's chromium (scripts/install_chromium.sh) and the playwright package; skips without them,
fails without them under MUSICBUD_REQUIRE_SERVICES=1 (``make test``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from analytics.models import RecommendationEvent
from analytics.services import daily_metrics_aggregate
from recommendations.models import TrainingLog, TrainingStatus
from tests.analytics.factories import PASSWORD, stored_event
from tests.conftest import require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DAYS = 7


@pytest.fixture
def browser_available() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require_service("Playwright (pip install playwright)", False)
    require_service(f"Chromium at {CHROMIUM} (scripts/install_chromium.sh)", os.access(CHROMIUM, os.X_OK))


@pytest.fixture
def seeded_staff(django_user_model: Any) -> Any:
    """Events of DAYS days in two content types and two variants, rolled up; two training runs."""
    staff = django_user_model.objects.create_superuser(username="boss", password=PASSWORD, email="b@example.com")
    now = timezone.now()
    events = []
    for days_ago in range(DAYS):
        at = now - timedelta(days=days_ago)
        for content_type, variant in (("movies", "control"), ("anime", "popular")):
            events += [stored_event(staff, "view", at, content_type=content_type, variant=variant) for _ in range(10)]
            clicks = 1 + (days_ago + len(content_type)) % 4
            events += [
                stored_event(staff, "click", at, content_type=content_type, variant=variant, position=p)
                for p in range(clicks)
            ]
    RecommendationEvent.objects.bulk_create(events)
    for days_ago in range(DAYS):
        daily_metrics_aggregate(day=(now - timedelta(days=days_ago)).date())
    for days_ago, auc in ((3, 0.88), (1, 0.91)):
        TrainingLog.objects.create(
            content_type="movies",
            status=TrainingStatus.SUCCEEDED,
            triggered_by="cron",
            started_at=now - timedelta(days=days_ago),
            duration_s=42.0,
            auc=auc,
            ndcg_at_k=auc / 3,
            precision_at_k=auc / 4,
        )
    return staff


@pytest.mark.usefixtures("browser_available")
def test_staff_see_the_charts_drawn_in_a_real_browser(live_server: Any, seeded_staff: Any, tmp_path: Path) -> None:
    # Seeding is done: the ORM must not run while Playwright's event loop lives in this thread.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{live_server.url}/admin/login/?next=/admin/analytics/dailymetric/dashboard/%3Fdays%3D{DAYS}")
            page.fill("#id_username", seeded_staff.username)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#analytics-dashboard svg")
            assert page.url.endswith(f"/admin/analytics/dailymetric/dashboard/?days={DAYS}")

            drawn = page.evaluate(
                """() => {
                    const visible = el => { const b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0; };
                    const lines = [...document.querySelectorAll('svg.analytics-svg path.series')]
                        .filter(p => (p.getAttribute('d') || '').split('L').length > 1 && visible(p));
                    const bars = [...document.querySelectorAll('svg.analytics-svg rect.bar')]
                        .filter(r => Number(r.getAttribute('height')) > 0 && visible(r));
                    return {
                        svgs: document.querySelectorAll('svg.analytics-svg').length,
                        lines: lines.length,
                        points: document.querySelectorAll('svg.analytics-svg circle.point').length,
                        bars: bars.length,
                        summary: [...document.querySelectorAll('.analytics-summary strong')].map(s => s.textContent),
                    };
                }"""
            )
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        finally:
            browser.close()

    clicks = RecommendationEvent.objects.filter(event="click").count()
    # 4 rate charts x 2 series, 3 training charts x 1 series (movies), 1 bar chart.
    assert drawn["svgs"] == 8
    assert drawn["lines"] == 4 * 2 + 3
    assert drawn["points"] == 4 * 2 * DAYS + 3 * 2
    assert drawn["bars"] == 4  # clicked positions 0..3
    assert drawn["summary"][:3] == ["140", str(clicks), f"{clicks / 140 * 100:.1f}%"]
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
