"""manage.py train_recommendations and scripts/retrain_models.sh against the real database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection

from recommendations.data import get_interaction_store
from recommendations.data.loading import write_dataset
from recommendations.data.seeding import SeedSpec, generate_content
from recommendations.domain import ContentType
from recommendations.models import TrainingLog
from recommendations.training import acquire_training

REPO = Path(__file__).resolve().parents[2]
SPEC = SeedSpec(users=50, items={ContentType.MOVIES: 60, ContentType.MANGA: 30, ContentType.ANIME: 40}, seed=3,
                interactions_per_user=10, months=4)  # fmt: skip
# LightFM pinned, so the final fit reports epochs (selection has its own tests).
FAST_ENGINE = {"no_components": 8, "epochs": 3, "num_threads": 1, "pinned_models": {"*": "lightfm"}}


@pytest.fixture
def engine(settings: Any, tmp_path: Path) -> Path:
    settings.MODEL_DIR = tmp_path / "models"
    settings.RECOMMENDATIONS_ENGINE = FAST_ENGINE
    return Path(settings.MODEL_DIR)


def seed(*types: ContentType) -> None:
    store = get_interaction_store()
    store.ensure_schema()
    for ct in types or tuple(ContentType):
        write_dataset(store, generate_content(SPEC, ct), progress=False)


@pytest.mark.django_db(transaction=True)
def test_training_all_types_writes_models_and_succeeded_logs(engine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed()
    call_command("train_recommendations", "--type", "all")
    out = capsys.readouterr().out
    assert "[movies] extracting interactions" in out
    assert "[anime] saved model" in out
    # Not a terminal here: a line per tenth of the epochs (every epoch, with 3) instead of a bar.
    epochs = [line for line in out.splitlines() if line.startswith("[manga] epoch")]
    # Selection scored 1 and 3 epochs on validation; the final fit runs the winner's count.
    total = len(epochs)
    assert total in (1, 3)
    assert epochs == [f"[manga] epoch {n}/{total}" for n in range(1, total + 1)]
    logs = list(TrainingLog.objects.order_by("content_type"))
    assert [(log.content_type, log.status, log.triggered_by) for log in logs] == [
        ("anime", "succeeded", "cli"),
        ("manga", "succeeded", "cli"),
        ("movies", "succeeded", "cli"),
    ]
    for log in logs:
        assert log.interactions
        assert log.users
        assert log.items
        assert log.model_version
        assert log.auc is not None
        assert 0.0 <= log.auc <= 1.0
        assert log.metrics["popularity"]["ndcg@10"] >= 0.0
        assert log.duration_s is not None
        assert log.duration_s > 0
        assert (engine / log.content_type / log.model_version / "meta.json").exists()


@pytest.mark.django_db(transaction=True)
def test_unchanged_data_is_skipped_unless_forced(engine: Path) -> None:
    seed(ContentType.MANGA)
    call_command("train_recommendations", "--type", "manga")
    call_command("train_recommendations", "--type", "manga")
    call_command("train_recommendations", "--type", "manga", "--force")
    statuses = list(TrainingLog.objects.order_by("started_at").values_list("status", flat=True))
    assert statuses == ["succeeded", "skipped", "succeeded"]


@pytest.mark.django_db(transaction=True)
def test_new_interactions_make_the_next_run_train(engine: Path) -> None:
    seed(ContentType.MANGA)
    call_command("train_recommendations", "--type", "manga")
    get_interaction_store().record_interaction(
        user_id=1, content_type="manga", item_id=generate_content(SPEC, ContentType.MANGA).catalog[0].item_id,
        kind=6, value=9.0,
    )  # fmt: skip
    call_command("train_recommendations", "--type", "manga")
    assert list(TrainingLog.objects.order_by("started_at").values_list("status", flat=True)) == [
        "succeeded",
        "succeeded",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_type_with_no_data_fails_with_a_clear_message_and_a_failed_log(engine: Path) -> None:
    with pytest.raises(CommandError, match="training failed for movies"):
        call_command("train_recommendations", "--type", "movies")
    log = TrainingLog.objects.get()
    assert log.status == "failed"
    assert log.error


@pytest.mark.django_db(transaction=True)
def test_a_locked_type_is_reported_and_not_trained(engine: Path) -> None:
    seed(ContentType.ANIME)
    held = acquire_training(ContentType.ANIME, triggered_by="other-process")
    with pytest.raises(CommandError, match="training_in_progress"):
        call_command("train_recommendations", "--type", "anime")
    assert list(TrainingLog.objects.values_list("id", "status")) == [(held.id, "running")]


@pytest.mark.django_db(transaction=True)
def test_an_abandoned_lock_is_released_after_its_ttl(engine: Path, settings: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    seed(ContentType.ANIME)
    held = acquire_training(ContentType.ANIME, triggered_by="crashed-process")
    TrainingLog.objects.filter(id=held.id).update(started_at=timezone.now() - timedelta(hours=7))
    call_command("train_recommendations", "--type", "anime")
    held.refresh_from_db()
    assert held.status == "failed"
    assert "abandoned" in held.error
    assert TrainingLog.objects.filter(status="succeeded").count() == 1


@pytest.mark.django_db(transaction=True)
def test_failures_are_mailed_to_the_admins_when_asked(engine: Path, settings: Any) -> None:
    settings.ADMINS = [("Ops", "ops@example.com")]
    with pytest.raises(CommandError):
        call_command("train_recommendations", "--type", "manga", "--email-on-failure")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "manga" in mail.outbox[0].body


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def wait_until_finished(run_ids: list[int], timeout_s: float = 120) -> None:
    """Bounded: FAILS the test if a run is still running after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while TrainingLog.objects.filter(id__in=run_ids, status="running").exists():
        if time.monotonic() > deadline:
            pytest.fail(f"runs {run_ids} still running after {timeout_s} s")
        time.sleep(0.3)


def test_async_queues_each_type_for_the_worker_which_trains_it(
    engine: Path, start_worker: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    seed(ContentType.MANGA, ContentType.ANIME)
    held = acquire_training(ContentType.MOVIES, triggered_by="other-process")

    with pytest.raises(CommandError, match="training not queued for movies: training_in_progress"):
        call_command("train_recommendations", "--type", "all", "--async", "--triggered-by", "cron")

    out = capsys.readouterr().out
    queued = list(TrainingLog.objects.exclude(id=held.id).order_by("content_type"))
    assert [(log.content_type, log.status, log.heartbeat_at) for log in queued] == [
        ("anime", "running", None), ("manga", "running", None),
    ]  # fmt: skip
    assert f"[manga] queued for the worker (training log #{queued[1].id})" in out
    start_worker()
    wait_until_finished([log.id for log in queued])
    assert sorted(TrainingLog.objects.exclude(id=held.id).values_list("content_type", "status", "triggered_by")) == [
        ("anime", "succeeded", "cron"), ("manga", "succeeded", "cron"),
    ]  # fmt: skip


def test_the_cron_script_queues_every_type_and_logs_to_its_file(
    engine: Path, tmp_path: Path, start_worker: Callable[..., Any]
) -> None:
    seed()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),  # the test database, where the seeded rows are committed
        "TASKS_BACKEND": "database",
        "RECOMMENDATIONS_SOURCE": "database",
        "RETRAIN_LOG": str(tmp_path / "logs" / "retrain.log"),
        "PYTHON": sys.executable,
        "DEBUG": "true",
    }
    first = subprocess.run(
        [str(REPO / "scripts/retrain_models.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert first.returncode == 0, first.stderr
    log_text = (tmp_path / "logs" / "retrain.log").read_text()
    assert "retrain start" in log_text
    assert "[anime] queued for the worker" in log_text
    assert "retrain end (exit 0)" in log_text
    start_worker()
    wait_until_finished(list(TrainingLog.objects.values_list("id", flat=True)))
    assert sorted(TrainingLog.objects.values_list("content_type", "status", "triggered_by")) == [
        ("anime", "succeeded", "cron"), ("manga", "succeeded", "cron"), ("movies", "succeeded", "cron"),
    ]  # fmt: skip

    # A type that cannot be queued (its training still running) exits non-zero and says where the log is.
    acquire_training(ContentType.MOVIES, triggered_by="other-process")
    second = subprocess.run(
        [str(REPO / "scripts/retrain_models.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert second.returncode != 0
    assert "retraining not queued" in second.stderr
    assert "exit 1" in (tmp_path / "logs" / "retrain.log").read_text()


def test_the_log_rotates_past_its_size_limit(tmp_path: Path) -> None:
    log = tmp_path / "retrain.log"
    log.write_text("x" * 100)
    env = {**os.environ, "RETRAIN_LOG": str(log), "RETRAIN_LOG_MAX_BYTES": "50", "PYTHON": "/bin/false"}
    result = subprocess.run(
        [str(REPO / "scripts/retrain_models.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert (tmp_path / "retrain.log.1").read_text() == "x" * 100
    assert "retrain start" in log.read_text()
