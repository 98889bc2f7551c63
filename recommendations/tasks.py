"""The background tasks (django-tasks): what the web process queues and the worker (``manage.py run_worker``) runs.

Each task is a thin wrapper of one domain function; its arguments are JSON (ids, not objects), because a task
is a database row until the worker takes it. Trainings have a queue of their own ("training"): the worker runs
it in a thread of its own, so a training of many minutes never holds back the users' drains ("default").
"""

from __future__ import annotations

from django_tasks import task

from recommendations import outbox, training

TRAINING_QUEUE = "training"


@task(queue_name=TRAINING_QUEUE)
def train(*, log_id: int, force: bool = True, email_on_failure: bool = False) -> str:
    """Train the run ``log_id`` that ``training.start_training_run`` acquired; returns its final status."""
    return training.run_queued_training(log_id=log_id, force=force, email_on_failure=email_on_failure)


@task()
def drain_user(*, user_id: int) -> int:
    """Apply one user's queued interaction changes (an events request queued it); returns how many are left."""
    return outbox.drain_user_now(user_id).pending
