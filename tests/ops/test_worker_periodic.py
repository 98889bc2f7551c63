"""The worker's periodic jobs (settings.WORKER_PERIODIC) and the pruning of old task rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from musicbud.cache import CacheUnavailable
from recommendations.tasks import drain_user, prune_task_results
from recommendations.worker import Periodic, periodic_functions, run_periodic_once
from tests.conftest import DATABASE_TASKS

calls: list[str] = []


def failing_job() -> None:
    calls.append("failing")
    raise RuntimeError("boom")


def counting_job() -> int:
    calls.append("counting")
    return len(calls)


async def async_job() -> None:
    calls.append("async")


def cache_down_job() -> None:
    raise CacheUnavailable("connection refused")


@pytest.fixture(autouse=True)
def _no_calls() -> None:
    calls.clear()


def job(path: str, every_s: float) -> Periodic:
    name = path.rsplit(".", 1)[1]
    return Periodic(path, every_s, globals()[name])


def test_the_default_jobs_are_the_reaper_the_outbox_pass_the_pruning_and_the_invalidation_retry() -> None:
    assert [p.path for p in periodic_functions()] == [
        "recommendations.training.reap_stalled_trainings",
        "recommendations.outbox.drain_pass",
        "recommendations.tasks.prune_task_results",
        "recommendations.caching.aretry_pending_invalidations",
    ]


def test_a_job_that_finds_the_cache_down_is_a_warning_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    jobs = [job(f"{__name__}.cache_down_job", 10)]
    run_periodic_once(jobs, now=100.0)
    assert "cache_down_job: the cache is unavailable" in caplog.text
    assert all(record.exc_info is None for record in caplog.records)
    assert jobs[0].due == 110.0


def test_a_wrong_dotted_path_fails_the_workers_start(settings: Any) -> None:
    settings.WORKER_PERIODIC = {"recommendations.training.no_such_function": 5}
    with pytest.raises(ImportError):
        periodic_functions()


@pytest.mark.django_db(transaction=True)  # the worker returns its connection after each job
def test_a_failing_job_is_logged_and_the_others_still_run_each_on_its_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    jobs = [job(f"{__name__}.failing_job", 10), job(f"{__name__}.counting_job", 5), job(f"{__name__}.async_job", 5)]

    run_periodic_once(jobs, now=100.0)
    run_periodic_once(jobs, now=104.0)  # nothing due
    run_periodic_once(jobs, now=105.0)  # the 5 s ones

    assert calls == ["failing", "counting", "async", "counting", "async"]
    assert [j.due for j in jobs] == [110.0, 110.0, 110.0]
    assert "failing_job failed; next try in 10" in caplog.text


@pytest.mark.django_db
def test_task_rows_older_than_the_kept_days_are_pruned_but_never_one_waiting_to_run(settings: Any) -> None:
    settings.TASKS = {**settings.TASKS, "default": {**settings.TASKS["default"], "BACKEND": DATABASE_TASKS}}
    settings.TASK_RESULTS_KEEP_DAYS = 7
    for user_id in range(4):
        drain_user.enqueue(user_id=user_id)
    old = timezone.now() - timedelta(days=8)
    ids = list(DBTaskResult.objects.order_by("enqueued_at").values_list("id", flat=True))
    DBTaskResult.objects.filter(id__in=ids[:3]).update(enqueued_at=old)
    DBTaskResult.objects.filter(id=ids[0]).update(status="SUCCESSFUL")
    DBTaskResult.objects.filter(id=ids[1]).update(status="RUNNING")  # a killed worker's

    assert prune_task_results() == 2

    assert sorted(DBTaskResult.objects.values_list("id", flat=True)) == sorted(ids[2:])
