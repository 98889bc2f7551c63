"""The served model of each type, with its holdout metrics beside popularity's (the admin's models page, in a shell)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recommendations import publishing
from recommendations.domain import ContentType


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _lift(row: publishing.MetricRow) -> str:
    return "-" if row.lift is None else f"{row.lift:.2f}x"


class Command(BaseCommand):
    help = "Show the served model of each type: version, kind, trained at, holdout metrics beside popularity, lift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--type", choices=[ct.value for ct in ContentType], default=None,
            help="one content type (default: every type)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        types = [ContentType(options["type"])] if options["type"] else list(ContentType)
        for content_type in types:
            served = publishing.type_models(content_type).served
            if served is None:
                self.stdout.write(f"{content_type.value}: no model; popularity is served")
                continue
            trained = served.trained_at.strftime("%Y-%m-%d %H:%M:%S %Z") if served.trained_at else "-"
            self.stdout.write(
                f"{content_type.value}: {served.version}  kind {served.kind or '-'}  model {served.model or '-'}\n"
                f"  trained at {trained}; {served.users} users, {served.items} items, {served.interactions} "
                f"interactions; holdout split {served.split or '-'}; AUC {_number(served.auc)}"
            )
            if served.error:
                self.stdout.write(f"  cannot be read: {served.error}")
            self.stdout.write(f"  {'metric':<14} {'model':>8} {'popularity':>11} {'lift':>7}")
            for row in served.metrics:
                self.stdout.write(
                    f"  {row.name:<14} {_number(row.model):>8} {_number(row.popularity):>11} {_lift(row):>7}"
                )
            self.stdout.write("")
