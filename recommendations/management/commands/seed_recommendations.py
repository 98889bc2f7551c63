"""Fill the configured interaction store with realistic synthetic data (same seed, same data)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from musicbud.errors import MusicBudError
from recommendations.data import get_interaction_store
from recommendations.data.graph_profiles import PROFILES, get_profile
from recommendations.data.musicbud_seeding import seed_musicbud_graph
from recommendations.data.neo4j_accounts import AccountGraphStore
from recommendations.data.neo4j_schema import GraphLabels
from recommendations.data.neo4j_store import graph_store
from recommendations.data.seeding import SeedSpec, seed_store
from recommendations.domain import ContentType


class Command(BaseCommand):
    help = "Seed synthetic users, items and interactions into the store RECOMMENDATIONS_SOURCE selects (or a graph)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, required=True)
        parser.add_argument("--movies", type=int, default=0)
        parser.add_argument("--manga", type=int, default=0)
        parser.add_argument("--anime", type=int, default=0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--interactions-per-user", type=int, default=50, help="mean, per content type")
        parser.add_argument("--first-user-id", type=int, default=1)
        parser.add_argument(
            "--graph-profile",
            choices=sorted(PROFILES),
            help="write into Neo4j in this graph profile's shape (musicbud: people, accounts, edges without "
            "properties), whatever RECOMMENDATIONS_SOURCE says",
        )
        parser.add_argument(
            "--mal-first-importer-only",
            action="store_true",
            help="musicbud: an anime/manga gets an edge only from the first user who has it (MusicBud's importer)",
        )

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
            progress = options["verbosity"] > 0
            profile = options["graph_profile"]
            if profile is None:
                report = seed_store(get_interaction_store(), spec, progress=progress)
            else:
                store = graph_store(GraphLabels(settings.NEO4J_LABEL_PREFIX, get_profile(profile)))
                if isinstance(store, AccountGraphStore):
                    first_only = options["mal_first_importer_only"]
                    report = seed_musicbud_graph(store, spec, first_importer_only=first_only, progress=progress)
                else:
                    report = seed_store(store, spec, progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except MusicBudError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        for ct, count in report.interactions.items():
            self.stdout.write(f"{ct.value}: {report.items[ct]} items, {count} interactions")
        self.stdout.write(f"seeded in {report.seconds:.1f} s")
