"""A worker killed (SIGKILL, a real process) in the middle of a training: the run is failed within a minute,
the type's lock released, and the next training succeeds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from recommendations.models import TrainingLog, TrainingStatus
from recommendations.training import start_training_run
from tests.reliability.support import record_figure

pytestmark = pytest.mark.usefixtures("seeded")

# A real setting makes the training long, deterministically: LightFM pinned, a million epochs, no budget cut.
ENDLESS_ENGINE = {
    "pinned_models": {"*": "lightfm"},
    "epochs": 1_000_000,
    "training_budget_s": 1_000_000,
    "no_components": 8,
    "num_threads": 1,
}
QUICK_ENGINE = {"no_components": 8, "epochs": 3, "num_threads": 1}


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float) -> float:
    """Poll until ``condition`` holds; returns the seconds it took, FAILS the test past ``timeout_s``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"{what}: not within {timeout_s} s")
        time.sleep(0.2)
    return time.monotonic() - started


def run(run_id: int) -> TrainingLog:
    return TrainingLog.objects.get(pk=run_id)


def test_a_worker_killed_mid_training_has_its_run_failed_within_a_minute_and_the_next_training_succeeds(
    no_models: Any, settings: Any, start_worker: Callable[..., Any]
) -> None:
    settings.RECOMMENDATIONS_ENGINE = ENDLESS_ENGINE
    doomed = start_worker()
    (run_id,) = start_training_run(content_types=["manga"], triggered_by="test")

    # In the middle of it: the worker took it and its heartbeat has been refreshed since (it is fitting).
    first_beats: list[Any] = []

    def beating_again() -> bool:
        beat = run(run_id).heartbeat_at
        if beat is not None and not first_beats:
            first_beats.append(beat)
        return bool(first_beats) and beat is not None and beat > first_beats[0]

    wait_for("the worker's training to beat twice", beating_again, timeout_s=60)
    assert run(run_id).status == TrainingStatus.RUNNING
    doomed.kill()
    killed_at = time.monotonic()

    start_worker(RECOMMENDATIONS_ENGINE=json.dumps(QUICK_ENGINE))
    failed_after = wait_for("the killed run to be failed", lambda: run(run_id).status != TrainingStatus.RUNNING, 60)
    failed = run(run_id)
    assert failed.status == TrainingStatus.FAILED
    assert "no heartbeat" in failed.error
    assert failed.model_version == ""
    record_figure("worker_killed_mid_training", failed_after_s=round(time.monotonic() - killed_at, 1))
    assert failed_after <= 60

    # The lock is released: a new training of the type is accepted and succeeds in the new worker.
    (next_id,) = start_training_run(content_types=["manga"], triggered_by="test")
    wait_for("the next training to finish", lambda: run(next_id).status != TrainingStatus.RUNNING, timeout_s=120)
    assert run(next_id).status == TrainingStatus.SUCCEEDED, run(next_id).error
    assert run(next_id).model_version


def test_a_worker_stopped_with_sigterm_fails_its_running_training_at_once(
    no_models: Any, settings: Any, start_worker: Callable[..., Any]
) -> None:
    settings.RECOMMENDATIONS_ENGINE = ENDLESS_ENGINE
    worker = start_worker()
    (run_id,) = start_training_run(content_types=["anime"], triggered_by="test")
    wait_for("the worker to take the training", lambda: run(run_id).heartbeat_at is not None, timeout_s=60)

    worker.stop()

    stopped = run(run_id)
    assert stopped.status == TrainingStatus.FAILED
    assert stopped.error == "stopped: its worker shut down"
