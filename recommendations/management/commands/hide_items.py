"""Bulk hide (or un-hide) catalog items from a file of ids: the admin's catalog action, for many items at once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError, CommandParser

from musicbud.errors import MusicBudError
from recommendations import hiding
from recommendations.domain import ContentType


class Command(BaseCommand):
    help = "Hide items from every list at once (or --unhide them); ids in a file, one per line ('-': stdin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--type", required=True, choices=[ct.value for ct in ContentType], help="content type (required)"
        )
        parser.add_argument("--file", required=True, help="item ids, one per line; '#' starts a comment (required)")
        parser.add_argument(
            "--unhide", action="store_true", help="put the items back into circulation (default: off, hide them)"
        )
        parser.add_argument(
            "--reason", default="", help="kept with each hidden item, at most 200 characters (default: none)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        content_type = ContentType(options["type"])
        try:
            if options["file"] == "-":
                ids = hiding.read_item_ids(content_type, sys.stdin)
            else:
                with Path(options["file"]).open() as lines:
                    ids = hiding.read_item_ids(content_type, lines)
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from exc
        except MusicBudError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        if not ids:
            raise CommandError(f"{options['file']} holds no item id")
        try:
            if options["unhide"]:
                result = async_to_sync(hiding.unhide_items)(content_type=content_type, item_ids=ids, by_user_id=None)
            else:
                result = async_to_sync(hiding.hide_items)(
                    content_type=content_type, item_ids=ids, by_user_id=None, reason=options["reason"]
                )
        except MusicBudError as exc:
            details = f" {exc.details['item_ids']}" if "item_ids" in exc.details else ""
            raise CommandError(f"{exc.code}: {exc.message}{details} (nothing changed)") from exc
        done, left = ("un-hid", "were not hidden") if options["unhide"] else ("hid", "were hidden already")
        self.stdout.write(f"{done} {len(result.changed)} {content_type.value} items; {len(result.unchanged)} {left}")
        if not result.cache_invalidated:
            self.stderr.write("warning: the cache did not answer; cached lists may show the change late (up to 1 h)")
