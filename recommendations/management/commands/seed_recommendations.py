"""Fill the configured interaction store with realistic synthetic data (same seed, same data)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from musicbud.errors import MusicBudError
from recommendations.data import get_interaction_store
from recommendations.data.seeding import SeedSpec, seed_store
from recommendations.domain import ContentType


class Command(BaseCommand):
    help = "Seed synthetic users, items and interactions into the store RECOMMENDATIONS_SOURCE selects."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, required=True)
        parser.add_argument("--movies", type=int, default=0)
        parser.add_argument("--manga", type=int, default=0)
        parser.add_argument("--anime", type=int, default=0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--interactions-per-user", type=int, default=50, help="mean, per content type")
        parser.add_argument("--first-user-id", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            spec = SeedSpec(
                users=options["users"],
                items={
                    ContentType.MOVIES: options["movies"],
                    ContentType.MANGA: options["manga"],
                    ContentType.ANIME: options["anime"],
                },
                seed=options["seed"],
                interactions_per_user=options["interactions_per_user"],
                first_user_id=options["first_user_id"],
            )
            report = seed_store(get_interaction_store(), spec, progress=options["verbosity"] > 0)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except MusicBudError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        for ct, count in report.interactions.items():
            self.stdout.write(f"{ct.value}: {report.items[ct]} items, {count} interactions")
        self.stdout.write(f"seeded in {report.seconds:.1f} s")
