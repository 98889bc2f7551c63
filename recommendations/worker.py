"""The worker process (``manage.py run_worker``): the queue's tasks and the periodic functions, never in a web process.

Three threads, each with its own database connection:

- "tasks": django-tasks-db's worker loop on the "default" queue (the users' outbox drains), one task at a time;
- "training": the same loop on the "training" queue, so a training of many minutes (and Spark's JVM, if a type
  trains on Spark) never holds back a drain;
- "periodic": every function of settings.WORKER_PERIODIC (dotted path -> seconds) on its interval: the reaper
  of stalled trainings, the outbox's full pass and the pruning of old task rows by default.

A loop that loses the database logs it and starts again after a pause: the tasks are rows, nothing is lost.
SIGTERM/SIGINT stop the loops; a training still running is failed at once ("its worker shut down") rather than
by a reaper 30 s later. SIGKILL stops everything: the reaper of the next worker fails the run.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import FrameType

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils.module_loading import import_string
from django_tasks_db.management.commands.db_worker import Worker

from musicbud.cache import CacheUnavailable
from recommendations import training
from recommendations.tasks import TRAINING_QUEUE

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
# Seconds a loop that lost the database waits before it tries again.
RETRY_PAUSE_S = 2.0


@dataclass
class Periodic:
    """One function of settings.WORKER_PERIODIC and when it is due next (monotonic seconds)."""

    path: str
    every_s: float
    function: Callable[[], object]
    due: float = field(default=0.0)


def periodic_functions() -> list[Periodic]:
    """settings.WORKER_PERIODIC imported: a wrong path fails the worker's start, not its first tick."""
    return [Periodic(path, float(every_s), import_string(path)) for path, every_s in settings.WORKER_PERIODIC.items()]


async def _awaited_then_closed(function: Callable[[], Awaitable[object]]) -> object:
    from musicbud import cache

    try:
        return await function()
    finally:
        await cache.close()  # this call's event loop ends here: so do its cache clients


def call_job(function: Callable[[], object]) -> object:
    """Call a periodic function: a coroutine function in an event loop of its own (the worker's threads have none)."""
    if inspect.iscoroutinefunction(function):
        return asyncio.run(_awaited_then_closed(function))
    return function()


def run_periodic_once(jobs: list[Periodic], now: float) -> None:
    """Call every job that is due; a failure is logged and the job tried again on its next interval."""
    for job in jobs:
        if now < job.due:
            continue
        job.due = now + job.every_s
        try:
            call_job(job.function)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("%s: the database is unavailable (%s); next try in %s s", job.path, exc, job.every_s)
        except CacheUnavailable as exc:  # e.g. the retry of recorded invalidations while the cache is still down
            logger.warning("%s: the cache is unavailable (%s); next try in %s s", job.path, exc, job.every_s)
        except Exception:  # a supervisor: one failing job must not stop the others, nor the worker
            logger.exception("%s failed; next try in %s s", job.path, job.every_s)
        finally:
            close_old_connections()


class WorkerProcess:
    """The worker's threads and their stop."""

    def __init__(self, *, poll_s: float, worker_id: str | None = None) -> None:
        base = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        self.stopping = threading.Event()
        self.loops = {
            queue: Worker(
                queue_names=[queue],
                interval=poll_s,
                batch=False,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id=f"{base}-{queue}"[:64],
                excluded_queue_names=[],
            )
            for queue in (DEFAULT_QUEUE, TRAINING_QUEUE)
        }
        self.jobs = periodic_functions()

    def _run_loop(self, queue: str) -> None:
        loop = self.loops[queue]
        while not self.stopping.is_set():
            try:
                loop.run()
            except (OperationalError, InterfaceError) as exc:
                logger.warning("worker %s: the database is unavailable (%s); retrying", queue, exc)
                close_old_connections()
                self.stopping.wait(RETRY_PAUSE_S)
            else:
                return  # run() returns once its loop was told to stop
        connection.close()

    def _run_periodic(self) -> None:
        while not self.stopping.is_set():
            run_periodic_once(self.jobs, time.monotonic())
            due = min((job.due for job in self.jobs), default=time.monotonic() + 1.0)
            self.stopping.wait(max(0.05, due - time.monotonic()))
        connection.close()

    def stop(self, signum: int, frame: FrameType | None) -> None:
        logger.info("worker: %s received, stopping", signal.Signals(signum).name)
        self.stopping.set()
        for loop in self.loops.values():
            loop.running = False

    def run(self) -> None:
        """Start the threads and wait for a stop signal (main thread only: it installs the signal handlers)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        threads = {
            "tasks": threading.Thread(target=self._run_loop, args=(DEFAULT_QUEUE,), name="tasks", daemon=True),
            "training": threading.Thread(target=self._run_loop, args=(TRAINING_QUEUE,), name="training", daemon=True),
            "periodic": threading.Thread(target=self._run_periodic, name="periodic", daemon=True),
        }
        for thread in threads.values():
            thread.start()
        logger.info("worker started: queues %s and %s, periodic %s", DEFAULT_QUEUE, TRAINING_QUEUE,
                    ", ".join(job.path for job in self.jobs))  # fmt: skip
        while not self.stopping.wait(1.0):
            dead = [name for name, thread in threads.items() if not thread.is_alive()]
            if dead:
                # A loop that died of something unexpected: exit non-zero so the supervisor restarts the worker.
                logger.error("worker: thread(s) %s stopped unexpectedly; exiting", ", ".join(dead))
                self.stopping.set()
                raise SystemExit(1)
        threads["tasks"].join(timeout=30)
        threads["periodic"].join(timeout=30)
        # A training is not waited for (minutes, or a JVM): it is failed now, and can be started again.
        failed = training.fail_runs_of_this_process("stopped: its worker shut down")
        if failed:
            logger.warning("worker: %d running training(s) failed at shutdown", failed)
        logger.info("worker stopped")
