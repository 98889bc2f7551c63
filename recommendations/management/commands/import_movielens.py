"""Import MovieLens ratings in their original format (see recommendations/data/importers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from musicbud.errors import MusicBudError
from recommendations.data import get_interaction_store
from recommendations.data.importers import import_movielens


class Command(BaseCommand):
    help = "Import MovieLens ratings (ml-100k u.data/u.item or ml-1m ratings.dat/movies.dat) into the configured store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path", type=Path, help="folder holding u.data + u.item (ml-100k) or ratings.dat + movies.dat (ml-1m)"
        )
        parser.add_argument("--user-offset", type=int, default=0, help="added to every user id of the dataset")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = import_movielens(
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
