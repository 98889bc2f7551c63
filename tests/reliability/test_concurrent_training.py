"""Two `manage.py train_recommendations` of the same type started at once: one trains, the other reports the lock."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from recommendations.data import get_interaction_store
from recommendations.data.loading import write_dataset
from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from recommendations.models import TrainingLog
from tests.api.conftest import API_SPEC
from tests.reliability.support import REPO, database_url, process_env, record_figure

# Slow enough (several seconds of fitting) that the two processes surely overlap.
SLOW_ENGINE = {"no_components": 64, "epochs": 800, "num_threads": 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings")
def test_two_trainings_of_one_type_at_once_one_runs_and_the_other_reports_the_lock(tmp_path: Path) -> None:
    store = get_interaction_store()
    store.ensure_schema()
    write_dataset(store, generate_content(API_SPEC, ContentType.MOVIES), progress=False)
    env = process_env(
        DEBUG="true",
        DATABASE_URL=database_url(connection.settings_dict),  # the test database, rows committed
        RECOMMENDATIONS_SOURCE="database",
        MODEL_DIR=str(tmp_path / "models"),
        RECOMMENDATIONS_ENGINE=json.dumps(SLOW_ENGINE),
    )
    command = [sys.executable, str(REPO / "manage.py"), "train_recommendations", "--type", "movies", "--force"]
    started = time.monotonic()
    processes = [
        subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        outcomes.append((process.returncode, out, err))
    elapsed = time.monotonic() - started

    codes = sorted(code for code, _, _ in outcomes)
    assert codes[0] == 0, outcomes
    assert codes[1] != 0, outcomes
    winner = next(o for o in outcomes if o[0] == 0)
    loser = next(o for o in outcomes if o[0] != 0)
    assert "[movies] saved model" in winner[1]
    assert "training_in_progress" in loser[2], loser
    logs = list(TrainingLog.objects.values_list("content_type", "status"))
    assert logs == [("movies", "succeeded")]
    assert len(list((tmp_path / "models" / "movies").iterdir())) == 2  # one version + CURRENT
    record_figure(
        "concurrent_training",
        processes=2,
        succeeded=codes.count(0),
        refused_with_lock=1,
        training_logs=len(logs),
        seconds=round(elapsed, 1),
    )
