"""The shared body of the import commands (a leading underscore: Django does not list it as a command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandError, CommandParser

from musicbud.errors import MusicBudError
from recommendations.data import get_interaction_store
from recommendations.data.importers import ImportReport
from recommendations.data.store import InteractionStore


class ImportCommand(BaseCommand):
    """Import one public dataset, in its original format, into the configured store."""

    path_help: ClassVar[str]

    def importer(self, store: InteractionStore, path: Path, *, user_offset: int, progress: bool) -> ImportReport:
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help=self.path_help)
        parser.add_argument(
            "--user-offset", type=int, default=0, help="added to every user id of the dataset (default: %(default)s)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = self.importer(
                get_interaction_store(),
                options["path"],
                user_offset=options["user_offset"],
                progress=options["verbosity"] > 0,
            )
        except MusicBudError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(
            f"{report.content_type.value}: {report.items} items, {report.interactions} interactions, "
            f"{report.skipped} rows skipped"
        )
