"""The settings module fails loudly on bad or missing production values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with exactly these service variables."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "DATABASE_URL",
            "REDIS_URL",
            "NEO4J_URI",
            "NEO4J_PASSWORD",
            "RECOMMENDATIONS_SOURCE",
            "ALLOWED_HOSTS",
            "RECOMMENDATIONS_ENGINE",
        }
    }
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "musicbud.settings"
    # django.setup() too: some settings are validated when the apps load (the A/B experiment).
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.REDIS_URL or 'local-memory')"
    )
    return subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO, env=clean, capture_output=True, text=True
    )


def test_a_development_run_needs_no_services_and_uses_sqlite_and_local_memory() -> None:
    result = load_settings(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "local-memory"]


def test_production_without_a_secret_key_refuses_to_start() -> None:
    result = load_settings(DEBUG="false")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set" in result.stderr


def test_a_short_secret_key_is_refused() -> None:
    result = load_settings(DEBUG="false", SECRET_KEY="short")
    assert "SECRET_KEY must be at least 32 characters" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"RECOMMENDATIONS_SOURCE": "mysql"}, "RECOMMENDATIONS_SOURCE='mysql' must be one of database, neo4j"),
        ({"RECOMMENDATIONS_SOURCE": "neo4j"}, "RECOMMENDATIONS_SOURCE=neo4j needs NEO4J_URI"),
        ({"NEO4J_URI": "bolt://127.0.0.1:1"}, "NEO4J_PASSWORD is empty"),
        ({"RECOMMENDATIONS_ENGINE": "[1]"}, "RECOMMENDATIONS_ENGINE must be a JSON object"),
        ({"DATABASE_CONN_MAX_AGE": "soon"}, "DATABASE_CONN_MAX_AGE='soon' is not an integer"),
        ({"THROTTLE_RATE_USER": "lots"}, "THROTTLE_RATE_USER='lots' is not a rate like 600/minute"),
        ({"RECOMMENDATIONS_EXPERIMENT": '{"name": "x", "variants": {}}'}, "RECOMMENDATIONS_EXPERIMENT.variants"),
        ({"RECOMMENDATIONS_TRAINER": "spark"}, "RECOMMENDATIONS_TRAINER uses spark: set SPARK_MASTER_URL"),
        ({"RECOMMENDATIONS_TRAINER": "gpu"}, "RECOMMENDATIONS_TRAINER='gpu' must be one of local, spark"),
        ({"RECOMMENDATIONS_TRAINER": '{"books": "spark"}'}, "RECOMMENDATIONS_TRAINER names an unknown type 'books'"),
        ({"RECOMMENDATIONS_TRAINER": '{"movies": "gpu"}'}, "RECOMMENDATIONS_TRAINER['movies']='gpu' must be one of"),
        ({"SPARK_DRIVER_MEMORY": "lots"}, "SPARK_DRIVER_MEMORY='lots' is not a memory size like 512m or 2g"),
        ({"SPARK_CONF": '{"executor.cores": "2"}'}, 'SPARK_CONF must map "spark.*" names to string values'),
        ({"MUSICBUD_JWT_SIGNING_KEY": "their-key"}, "MUSICBUD_JWT_SIGNING_KEY and MUSICBUD_USERS_DATABASE_URL go"),
        ({"MUSICBUD_USERS_DATABASE_URL": "sqlite:///u.db"}, "MUSICBUD_JWT_SIGNING_KEY and MUSICBUD_USERS_DATABASE_URL"),
        (
            {"MUSICBUD_JWT_SIGNING_KEY": "k", "MUSICBUD_USERS_DATABASE_URL": "mysql://h/db"},
            "MUSICBUD_USERS_DATABASE_URL must be a postgres://",
        ),
        (
            {
                "SECRET_KEY": "s" * 40,
                "MUSICBUD_JWT_SIGNING_KEY": "s" * 40,
                "MUSICBUD_USERS_DATABASE_URL": "sqlite:///u.db",
            },
            "MUSICBUD_JWT_SIGNING_KEY must differ from SECRET_KEY",
        ),
        ({"TASKS_BACKEND": "celery"}, "TASKS_BACKEND='celery' must be one of database, immediate"),
        ({"TRAINING_HEARTBEAT_S": "20"}, "TRAINING_STALE_AFTER_S must be at least 3 heartbeats"),
    ],
)
def test_a_bad_value_is_refused_with_a_message_naming_it(env: dict[str, str], message: str) -> None:
    result = load_settings(**{"DEBUG": "true", **env})
    assert result.returncode != 0
    assert message in result.stderr


def test_service_urls_select_postgresql_and_redis() -> None:
    result = load_settings(
        DEBUG="false",
        SECRET_KEY="x" * 40,
        DATABASE_URL="postgres://u:p@127.0.0.1:5432/db",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://127.0.0.1:6379/0"]


def test_an_unknown_graph_profile_is_refused_and_the_choices_are_the_shipped_profiles() -> None:
    result = load_settings(DEBUG="true", NEO4J_GRAPH_PROFILE="neo")
    assert result.returncode != 0
    assert "NEO4J_GRAPH_PROFILE='neo' must be one of native, musicbud" in result.stderr
    from recommendations.data.graph_profiles import PROFILES

    assert set(PROFILES) == {"native", "musicbud"}
    assert load_settings(DEBUG="true", NEO4J_GRAPH_PROFILE="musicbud").returncode == 0


def test_the_trainer_is_chosen_per_type_with_a_default_for_the_others() -> None:
    code = "import json; from django.conf import settings as s; print(json.dumps(s.RECOMMENDATIONS_TRAINER))"
    env = {
        **os.environ,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "musicbud.settings",
        "RECOMMENDATIONS_TRAINER": '{"movies": "spark"}',
        "SPARK_MASTER_URL": "spark://h:7077",
    }
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert json.loads(result.stdout) == {"*": "local", "movies": "spark"}, result.stderr
    # The settings list the types by name (they import no app code): the same names as the domain's.
    from recommendations.domain import ContentType

    assert {ct.value for ct in ContentType} == {"movies", "manga", "anime"}
