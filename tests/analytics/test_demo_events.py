"""seed_demo_events: a second run stores nothing twice, whatever its --days."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from analytics.models import RecommendationEvent
from tests.api.conftest import models, seeded, trained_model_dir

__all__ = ["models", "seeded", "trained_model_dir"]  # the API tests' fixtures, used here


def _run(days: int) -> str:
    out = StringIO()
    call_command("seed_demo_events", "--accounts", "4", "--days", str(days), stdout=out)
    return out.getvalue()


def _ids() -> set[tuple[int, str]]:
    return set(RecommendationEvent.objects.values_list("user_id", "client_event_id"))


@pytest.fixture
def demo(seeded: None, models: Any, settings: Any) -> None:
    """The API tests' seeded store and served models (what a session shows), with the demo's settings."""
    settings.DEBUG = True
    settings.EVENTS_MAX_AGE_DAYS = 28


@pytest.mark.usefixtures("demo")
def test_a_run_over_more_days_adds_only_the_older_days_and_a_shorter_run_adds_nothing() -> None:
    _run(7)
    week = _ids()
    assert week
    _run(14)
    fortnight = _ids()
    assert week < fortnight
    assert "demo events: 0 new events" in _run(7)
    assert "demo events: 0 new events" in _run(14)
    assert _ids() == fortnight
    # The same days give the same events, whatever the runs before: a fresh 14-day run stores exactly these.
    RecommendationEvent.objects.all().delete()
    _run(14)
    assert _ids() == fortnight
