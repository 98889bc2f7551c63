"""The operator's commands: clear_recommendation_cache (reaching a running server), show_models, show_daily_metrics."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from analytics.models import DailyMetric
from recommendations import caching, publishing
from recommendations.domain import ContentType
from tests.api.conftest import Api, _fresh_cache, api, models, seeded, trained_model_dir
from tests.reliability.support import database_url, manage, process_env

__all__ = ["_fresh_cache", "api", "models", "seeded", "trained_model_dir"]
pytestmark = pytest.mark.usefixtures("seeded", "models")
PAGE = "/v1/recommendations/movies/"


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


async def test_clearing_the_cache_drops_pages_and_pools(api: Api) -> None:
    await api.get(PAGE, limit=5)
    await caching.store_pool("popular", "manga", [("800000001", 3.0)])
    assert (await api.get(PAGE, limit=5)).headers["X-Cache"] == "hit"

    from asgiref.sync import sync_to_async

    output = await sync_to_async(run)("clear_recommendation_cache")

    assert "dropped every cached recommendation dataset" in output
    assert (await api.get(PAGE, limit=5)).headers["X-Cache"] == "miss"
    assert await caching.cached_pool("popular", "manga") == (None, None)


def test_clearing_with_the_cache_down_is_an_error_naming_what_is_pending(settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with pytest.raises(CommandError, match="invalidation_pending"):
        run("clear_recommendation_cache")


async def test_a_clear_from_another_process_reaches_the_server_through_the_embedded_cache(
    api: Api, settings: Any, tmp_path: Path
) -> None:
    # The embedded default (no Redis): the server (this process) and the command (another) share one file.
    settings.REDIS_URL = ""
    settings.EMBEDDED_CACHE = "file"
    settings.CACHE_FILE = tmp_path / "cache.sqlite3"
    await api.get(PAGE, limit=5)
    assert (await api.get(PAGE, limit=5)).headers["X-Cache"] == "hit"

    env = process_env(
        REDIS_URL=None, EMBEDDED_CACHE="file", CACHE_FILE=str(settings.CACHE_FILE), DEBUG="true",
        DATABASE_URL=database_url(connection.settings_dict),
    )  # fmt: skip
    from asgiref.sync import sync_to_async

    result = await sync_to_async(manage)("clear_recommendation_cache", env=env)

    assert result.returncode == 0, result.stderr
    assert (await api.get(PAGE, limit=5)).headers["X-Cache"] == "miss"


def test_show_models_prints_each_served_model_with_its_holdout_metrics_and_lift() -> None:
    output = run("show_models")

    for content_type in ContentType:
        served = publishing.type_models(content_type).served
        assert served is not None
        assert f"{content_type.value}: {served.version}  kind {served.kind}" in output
        ndcg = next(row for row in served.metrics if row.name.startswith("ndcg"))
        assert ndcg.model is not None
        assert ndcg.popularity is not None
        assert f"{ndcg.model:.4f}" in output
        assert f"{ndcg.popularity:.4f}" in output
    assert output.count("popularity") >= 3
    assert "x\n" in output  # a lift


def test_show_models_of_one_type_without_a_model_says_popularity_is_served(settings: Any, tmp_path: Path) -> None:
    settings.MODEL_DIR = tmp_path / "none"
    assert run("show_models", "--type", "anime") == "anime: no model; popularity is served\n"


def test_show_daily_metrics_prints_the_last_days_of_one_type() -> None:
    today = timezone.now().date()
    for days_ago, impressions in ((0, 200), (2, 100), (9, 50)):
        for content_type in ("movies", "anime"):
            DailyMetric.objects.create(
                date=today - timedelta(days=days_ago), content_type=content_type, variant="control",
                impressions=impressions, clicks=impressions // 10, likes=impressions // 20,
            )  # fmt: skip

    lines = run("show_daily_metrics", "--days", "3", "--type", "movies").splitlines()

    assert lines[0].startswith(f"daily metrics {today - timedelta(days=2)} .. {today} (UTC), 2 rows")
    assert lines[2].split() == [today.isoformat(), "movies", "200", "20", "10", "10.00%", "15.00%"]
    assert lines[3].split()[:3] == [(today - timedelta(days=2)).isoformat(), "movies", "100"]
    assert len(lines) == 4


def test_a_non_positive_number_of_days_is_refused() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        run("show_daily_metrics", "--days", "0")


@pytest.mark.parametrize("command", ["clear_recommendation_cache", "show_models", "show_daily_metrics"])
def test_every_argument_has_help_with_its_default(command: str) -> None:
    from django.core.management import load_command_class

    app = "analytics" if command == "show_daily_metrics" else "recommendations"
    parser = load_command_class(app, command).create_parser("manage.py", command)
    ours = [action for action in parser._actions if action.dest not in {"help", "version", "verbosity", "settings",
            "pythonpath", "traceback", "no_color", "force_color", "skip_checks"}]  # fmt: skip
    for action in ours:
        assert action.help, action.dest
        assert "default" in action.help, action.dest
