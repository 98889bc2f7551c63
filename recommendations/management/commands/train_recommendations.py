"""Train the recommendation models: the command operators and cron run.

By default the training runs here, in this process (an operator watching it); with ``--async`` it is queued
for the worker (``manage.py run_worker``), as the API and the admin do: cron (scripts/retrain_models.sh) uses it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from musicbud.errors import MusicBudError
from recommendations.domain import ContentType
from recommendations.engine.train import EpochCallback
from recommendations.training import notify_admins_of_failure, start_training_run, train_content_type


class Command(BaseCommand):
    help = "Train (or skip when the data is unchanged) the model of one or every content type."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--type",
            choices=["all", *(ct.value for ct in ContentType)],
            default="all",
            help="content type to train (default: %(default)s)",
        )
        parser.add_argument(
            "--force", action="store_true", help="retrain even if the data did not change (default: off)"
        )
        parser.add_argument(
            "--triggered-by", default="cli", help="recorded on the training log: cli, cron... (default: %(default)s)"
        )
        parser.add_argument(
            "--email-on-failure",
            action="store_true",
            help="mail settings.ADMINS when a type fails, for cron (default: off)",
        )
        parser.add_argument(
            "--async",
            action="store_true",
            dest="queue",
            help=(
                "queue the trainings for the worker (manage.py run_worker) and return; the run ids are printed "
                "(default: off, train in this process and wait)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        types = list(ContentType) if options["type"] == "all" else [ContentType(options["type"])]
        if options["queue"]:
            self.queue(types, options)
            return
        failures: list[str] = []
        for content_type in types:

            def say(message: str, ct: ContentType = content_type) -> None:
                self.stdout.write(f"[{ct.value}] {message}")

            try:
                with self.epoch_progress(content_type) as on_epoch:
                    log = train_content_type(
                        content_type,
                        triggered_by=options["triggered_by"],
                        force=options["force"],
                        progress=say,
                        on_epoch=on_epoch,
                    )
            except MusicBudError as exc:
                failures.append(f"{content_type.value}: {exc.code}: {exc}")
                self.stderr.write(f"[{content_type.value}] failed: {exc}")
                continue
            say(f"{log.status} in {log.duration_s:.1f} s (training log #{log.id})")
        if failures:
            message = "training failed for " + "; ".join(failures)
            if options["email_on_failure"]:
                notify_admins_of_failure(message)
            raise CommandError(message)

    def queue(self, types: list[ContentType], options: dict[str, Any]) -> None:
        """One queued run per type: a locked type is reported (and fails the command) without holding back the rest."""
        refused: list[str] = []
        for content_type in types:
            try:
                (run_id,) = start_training_run(
                    content_types=[content_type.value],
                    triggered_by=options["triggered_by"],
                    force=options["force"],
                    email_on_failure=options["email_on_failure"],
                )
            except MusicBudError as exc:
                refused.append(f"{content_type.value}: {exc.code}: {exc}")
                self.stderr.write(f"[{content_type.value}] not queued: {exc}")
                continue
            self.stdout.write(f"[{content_type.value}] queued for the worker (training log #{run_id})")
        if refused:
            raise CommandError("training not queued for " + "; ".join(refused))

    @contextmanager
    def epoch_progress(self, content_type: ContentType) -> Iterator[EpochCallback]:
        """A progress bar over the epochs (on stderr) on a terminal; otherwise (cron, logs) a line per tenth."""
        bar: tqdm | None = None
        interactive = sys.stderr.isatty()

        def on_epoch(done: int, total: int) -> None:
            nonlocal bar
            if interactive:
                if bar is None:
                    bar = tqdm(total=total, desc=f"[{content_type.value}] epochs", unit="epoch", file=sys.stderr)
                bar.update(1)
            elif done == total or done % max(1, total // 10) == 0:
                self.stdout.write(f"[{content_type.value}] epoch {done}/{total}")

        try:
            yield on_epoch
        finally:
            if bar is not None:
                bar.close()
