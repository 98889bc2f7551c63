"""Schemathesis with every check, as a regular user and as staff, over every operation of /v1/schema/.

The real command (``schemathesis run --checks all``) against a live server (scripts/serve.sh) on a small seeded
store with trained models, all of its phases: the schema's examples, coverage (boundary and just-invalid values of
every parameter), fuzzing (generated valid and invalid requests) and stateful sequences along the links the schema
declares (a training run started, then read by its id; a page, then an item of it as similar items' subject; ...).
Staff may start training: it runs against the seeded store with the tests' quick engine settings, on a copy of the
models. Every response must be documented by the schema and match it, none may be a 5xx, a request the schema
allows must not be refused (``positive_data_acceptance``) and one it forbids must not be accepted
(``negative_data_rejection``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from tests.api.conftest import API_SPEC, FAST_ENGINE, SEEDED_USER_ID, make_user
from tests.reliability.support import (
    REPO,
    VENV_BIN,
    database_url,
    live_server,
    live_worker,
    mint_access_token,
    record_figure,
)

# Per operation and phase: 34 operations x 2 roles stay within ~4 minutes here (the coverage phase adds its own
# boundary cases on top).
MAX_EXAMPLES = 6
SEED = 18
TIMEOUT_S = 600


def catalog_genres() -> dict[str, list[str]]:
    """The seeded catalog's genres per type: what the hooks let through as ``genre`` (the server's vocabulary)."""
    return {
        ct.value: sorted({genre for item in generate_content(API_SPEC, ct).catalog for genre in item.genres})
        for ct in ContentType
    }


def run_schemathesis(url: str, token: str, report: Path) -> subprocess.CompletedProcess[str]:
    """The command in the report's folder: its cache of earlier failures (.schemathesis/) stays out of the repo,
    so every run starts from the same seed and nothing else."""
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.security.schemathesis_hooks", "PYTHONPATH": str(REPO),
           "MUSICBUD_FUZZ_GENRES": json.dumps(catalog_genres())}  # fmt: skip
    return subprocess.run(
        [
            str(VENV_BIN / "schemathesis"), "run", f"{url}/v1/schema/", "--checks", "all",
            "--header", f"Authorization: Bearer {token}", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
            "--workers", "1", "--request-timeout", "30", "--suppress-health-check", "all",
            "--report", "json", "--report-json-path", str(report),
        ],
        capture_output=True, text=True, timeout=TIMEOUT_S, check=False, env=env, cwd=report.parent,
    )  # fmt: skip


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """Cases and failures (by kind, with the operations) of schemathesis' JSON run report."""
    return {
        "operations": report["operations"]["tested"],
        "cases": report["test_cases"]["generated"],
        "cases_with_failures": report["test_cases"]["with_failures"],
        "failures": {f["type"]: {"count": f["count"], "operations": f["operations"]} for f in report["failures"]},
        "errors": len(report["errors"]),
        "phases": {name: phase["status"] for name, phase in report["phases"].items()},
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings", "seeded")
@pytest.mark.parametrize("role", ["user", "staff"])
def test_every_check_passes_on_every_operation(role: str, trained_model_dir: Path, tmp_path: Path) -> None:
    staff = role == "staff"
    make_user(SEEDED_USER_ID, staff=staff)
    model_dir = tmp_path / "models"  # staff trains: never into the session's shared models
    shutil.copytree(trained_model_dir, model_dir)
    report_path = tmp_path / "schemathesis.json"
    env = {
        "DATABASE_URL": database_url(connection.settings_dict), "RECOMMENDATIONS_SOURCE": "database",
        "MODEL_DIR": str(model_dir), "RECOMMENDATIONS_ENGINE": json.dumps(FAST_ENGINE),
        "THROTTLE_RATE_ADDRESS": "1000000/minute",
    }  # fmt: skip
    with live_server(tmp_path, **env) as server, live_worker(tmp_path, **env):
        done = run_schemathesis(server.url, mint_access_token(SEEDED_USER_ID, staff=staff), report_path)
        server_log = server.log_text()

    summary = summarize(json.loads(report_path.read_text())) if report_path.exists() else {}
    (tmp_path / "schemathesis.txt").write_text(done.stdout + done.stderr)
    record_figure(f"schemathesis_all_checks_{role}", **summary, exit_status=done.returncode)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Internal Server Error" not in server_log
