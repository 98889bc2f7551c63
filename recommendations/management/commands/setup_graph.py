"""Create the graph's uniqueness constraints and indexes (idempotent; run before seeding or importing)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from musicbud.errors import MusicBudError
from recommendations.data import get_graph_store


class Command(BaseCommand):
    help = "Create the Neo4j constraints and indexes the interaction queries need. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            get_graph_store().ensure_schema()
        except MusicBudError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write("Neo4j constraints and indexes are in place.")
