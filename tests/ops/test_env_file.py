"""The local settings file: `make demo` writes it, every manage.py command then works in a plain shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What a plain shell has: no DEBUG, no SECRET_KEY, no services.
SERVICE_VARIABLES = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "NEO4J_", "RECOMMENDATIONS_", "MODEL_DIR")


def plain_shell(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_VARIABLES) and k != "MUSICBUD_ENV_FILE"}
    return env | {"MUSICBUD_DATA_DIR": str(tmp_path / "data")} | extra


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / "local.env"
    subprocess.run(["make", f"ENV_FILE={path}", str(path)], cwd=REPO, check=True, capture_output=True)
    return path


def test_make_writes_a_private_env_file_with_debug_and_a_generated_secret_once(env_file: Path) -> None:
    lines = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert lines["DEBUG"] == "true"
    assert len(lines["SECRET_KEY"]) >= 60
    assert env_file.stat().st_mode & 0o077 == 0
    subprocess.run(["make", f"ENV_FILE={env_file}", str(env_file)], cwd=REPO, check=True, capture_output=True)
    assert dict(line.split("=", 1) for line in env_file.read_text().splitlines()) == lines  # kept, not rewritten


def test_the_quick_start_commands_fail_in_a_plain_shell_and_work_with_the_env_file(
    env_file: Path, tmp_path: Path
) -> None:
    seed = ["seed_recommendations", "--users", "20", "--movies", "100", "--manga", "50", "--anime", "50"]
    without = manage(plain_shell(tmp_path, MUSICBUD_ENV_FILE=""), *seed)
    assert without.returncode != 0
    assert "SECRET_KEY must be set" in without.stderr
    env = plain_shell(tmp_path, MUSICBUD_ENV_FILE=str(env_file))
    # A small engine keeps the test quick; set in the environment, it also shows the environment wins.
    env["RECOMMENDATIONS_ENGINE"] = '{"no_components": 8, "epochs": 2, "num_threads": 1, "training_budget_s": 5}'
    assert manage(env, "migrate", "-v0").returncode == 0
    seeded = manage(env, *seed)
    assert seeded.returncode == 0, seeded.stderr
    assert "movies: 100 items" in seeded.stdout
    trained = manage(env, "train_recommendations", "--type", "all")
    assert trained.returncode == 0, trained.stderr


def test_the_environment_wins_over_the_file_and_a_named_file_must_exist(env_file: Path, tmp_path: Path) -> None:
    code = "import django; django.setup(); from django.conf import settings as s; print(s.DEBUG, s.SECRET_KEY[:4])"
    run = [sys.executable, "-c", code]
    env = plain_shell(tmp_path, MUSICBUD_ENV_FILE=str(env_file), DJANGO_SETTINGS_MODULE="musicbud.settings")
    overridden = env | {"DEBUG": "false", "SECRET_KEY": "x" * 40}
    result = subprocess.run(run, cwd=REPO, env=overridden, capture_output=True, text=True, check=False)
    assert result.stdout.split() == ["False", "xxxx"], result.stderr
    missing = env | {"MUSICBUD_ENV_FILE": str(tmp_path / "nope.env")}
    result = subprocess.run(run, cwd=REPO, env=missing, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "is not a file" in result.stderr


def test_the_cron_script_leaves_its_env_file_to_the_settings_json_values_included(tmp_path: Path) -> None:
    deployment = tmp_path / "env"
    deployment.write_text('DEBUG=true\nRECOMMENDATIONS_ENGINE={"epochs": 30, "loss": "warp"}\n')
    # Stands in for the interpreter: prints what the settings read instead of training.
    probe = tmp_path / "python"
    probe.write_text(
        f"#!/bin/sh\nexec {sys.executable} -c 'import django; django.setup(); from django.conf import settings; "
        'print("engine", settings.RECOMMENDATIONS_ENGINE)\'\n'
    )
    probe.chmod(0o755)
    log = tmp_path / "retrain.log"
    env = plain_shell(tmp_path, MUSICBUD_ENV_FILE=str(deployment), PYTHON=str(probe), RETRAIN_LOG=str(log),
                      DJANGO_SETTINGS_MODULE="musicbud.settings")  # fmt: skip
    script = [str(REPO / "scripts/retrain_models.sh")]
    result = subprocess.run(script, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "engine {'epochs': 30, 'loss': 'warp'}" in log.read_text()
    env["MUSICBUD_ENV_FILE"] = str(tmp_path / "missing")
    missing = subprocess.run(script, env=env, capture_output=True, text=True, check=False)
    assert missing.returncode == 2
    assert "is not a file" in missing.stderr
