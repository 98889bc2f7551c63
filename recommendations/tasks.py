"""The background tasks (django-tasks): what the web process queues and the worker (``manage.py run_worker``) runs.

Each task is a thin wrapper of one domain function; its arguments are JSON (ids, not objects), because a task
is a database row until the worker takes it. Trainings have a queue of their own ("training"): the worker runs
it in a thread of its own, so a training of many minutes never holds back the users' drains ("default").
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from recommendations import outbox, training

logger = logging.getLogger(__name__)

TRAINING_QUEUE = "training"


@task(queue_name=TRAINING_QUEUE)
def train(*, log_id: int, force: bool = True, email_on_failure: bool = False) -> str:
    """Train the run ``log_id`` that ``training.start_training_run`` acquired; returns its final status."""
    return training.run_queued_training(log_id=log_id, force=force, email_on_failure=email_on_failure)


@task()
def drain_user(*, user_id: int) -> int:
    """Apply one user's queued interaction changes (an events request queued it); returns how many are left."""
    return outbox.drain_user_now(user_id).pending


@task()
def drain_all() -> int:
    """Apply every user's queued changes now (the admin's action), as the periodic pass does; returns the pending."""
    return outbox.drain_pass().pending


def prune_task_results() -> int:
    """Delete task rows older than TASK_RESULTS_KEEP_DAYS that are not waiting to run; returns how many.

    Every events request with interaction changes adds a row: without this the table grows with traffic. A row
    left "running" by a killed worker goes too (no task runs for days). Periodic: settings.WORKER_PERIODIC.
    """
    cutoff = timezone.now() - timedelta(days=settings.TASK_RESULTS_KEEP_DAYS)
    deleted, _ = DBTaskResult.objects.filter(enqueued_at__lt=cutoff).exclude(status="READY").delete()
    if deleted:
        logger.info("pruned %d task rows older than %d days", deleted, settings.TASK_RESULTS_KEEP_DAYS)
    return deleted
