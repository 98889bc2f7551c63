"""Batch output for campaigns: top-N recommendations of one type for a list of users, or for every user."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from musicbud.errors import MusicBudError
from recommendations.domain import ContentType
from recommendations.exporting import export_recommendations, read_user_ids
from recommendations.recommending import current_model


class Command(BaseCommand):
    help = "Write recommendations (JSON lines or CSV) through the batch scoring path, a chunk of users at a time."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--type", required=True, choices=[ct.value for ct in ContentType], help="content type (required)"
        )
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--users", type=Path, help="a file of user ids, one per line (this or --all)")
        who.add_argument("--all", action="store_true", help="every user the served model knows (this or --users)")
        parser.add_argument(
            "--limit", type=int, default=10, help="recommendations per user, 1-100 (default: %(default)s)"
        )
        parser.add_argument(
            "--format", choices=["jsonl", "csv"], default="jsonl", help="output format (default: %(default)s)"
        )
        parser.add_argument("--output", type=Path, help="file to write (default: standard output)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr (default: a bar)")

    def handle(self, *args: Any, **options: Any) -> None:
        content_type = ContentType(options["type"])
        artifact = current_model(content_type)
        with ExitStack() as stack:
            users = None
            if options["users"] is not None:
                try:
                    users = read_user_ids(stack.enter_context(options["users"].open()))
                except OSError as exc:
                    raise CommandError(f"cannot read {options['users']}: {exc}") from exc
            # OutputWrapper is a text stream (and what call_command captures).
            out = stack.enter_context(options["output"].open("w")) if options["output"] else cast(TextIO, self.stdout)
            total = artifact.n_users if options["all"] and artifact is not None else None
            bar = stack.enter_context(
                tqdm(total=total, unit="users", file=sys.stderr, disable=options["no_progress"], desc="export")
            )
            try:
                summary = export_recommendations(
                    content_type=content_type, user_ids=users, limit=options["limit"], fmt=options["format"],
                    out=out, progress=bar.update,
                )  # fmt: skip
            except MusicBudError as exc:
                raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stderr.write(
            f"exported {summary.users} users from {content_type.value} model {summary.model_version} "
            f"({summary.from_model} personal, {summary.from_popularity} popularity)"
        )
