"""The worker: the queue's tasks (trainings, outbox drains) and the periodic functions (recommendations/worker.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.worker import WorkerProcess


class Command(BaseCommand):
    help = "Run the background worker: trainings, outbox drains and the periodic jobs (Ctrl-C or SIGTERM stops it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--worker-id", default=None, help="unique among the workers (default: host-pid)")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.TASKS_BACKEND != "database":
            raise CommandError(f"TASKS_BACKEND={settings.TASKS_BACKEND}: tasks run where they are queued, not here")
        WorkerProcess(poll_s=settings.WORKER_POLL_S, worker_id=options["worker_id"]).run()
