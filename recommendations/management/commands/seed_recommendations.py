"""Fill the configured interaction store with realistic synthetic data (same seed, same data).

By default nothing that exists changes: the new users come after every user id in use and the new items
after the type's synthetic items. ``--replace`` writes at the spec's own ids (from user 1 and item 1,
or ``--first-user-id``) over what is there, and then drops every cached page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from musicbud.errors import MusicBudError
from recommendations import caching
from recommendations.data import get_interaction_store
from recommendations.data.graph_profiles import PROFILES, get_profile
from recommendations.data.musicbud_seeding import after_existing_people, seed_musicbud_graph
from recommendations.data.neo4j_accounts import AccountGraphStore
from recommendations.data.neo4j_schema import GraphLabels
from recommendations.data.neo4j_store import graph_store
from recommendations.data.seeding import SeedReport, SeedSpec, after_existing, seed_store
from recommendations.data.store import InteractionStore
from recommendations.domain import ContentType


class Command(BaseCommand):
    help = (
        "Seed synthetic users, items and interactions into the store RECOMMENDATIONS_SOURCE selects (or a graph), "
        "after the ids that exist (--replace: over them, and the cache is dropped)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, required=True, help="how many new users (required)")
        for ct in ContentType:
            parser.add_argument(
                f"--{ct.value}", type=int, default=0, help=f"how many new {ct.value} (default: %(default)s)"
            )
        parser.add_argument(
            "--seed", type=int, default=0, help="random seed: the same seed, the same data (default: %(default)s)"
        )
        parser.add_argument(
            "--interactions-per-user", type=int, default=50, help="mean, per content type (default: %(default)s)"
        )
        parser.add_argument(
            "--first-user-id",
            type=int,
            help="id of the first new user (default: after every user id in use; with --replace: 1); an id in use "
            "is refused without --replace",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="write at the spec's own ids, overwriting the users' interactions and the items' titles and genres "
            "there, then drop every cached page (default: off, nothing that exists changes)",
        )
        parser.add_argument(
            "--graph-profile",
            choices=sorted(PROFILES),
            help="write into Neo4j in this graph profile's shape (musicbud: people, accounts, edges without "
            "properties), whatever RECOMMENDATIONS_SOURCE says (default: the configured store)",
        )
        parser.add_argument(
            "--mal-first-importer-only",
            action="store_true",
            help="musicbud: an anime/manga gets an edge only from the first user who has it, as MusicBud's importer "
            "does (default: off)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        first_user_id = options["first_user_id"]
        try:
            spec = SeedSpec(
                users=options["users"],
                items={ct: options[ct.value] for ct in ContentType},
                seed=options["seed"],
                interactions_per_user=options["interactions_per_user"],
                first_user_id=first_user_id or 1,
            )
            profile = options["graph_profile"]
            store = (
                get_interaction_store()
                if profile is None
                else graph_store(GraphLabels(settings.NEO4J_LABEL_PREFIX, get_profile(profile)))
            )
            if not options["replace"]:
                spec = self._after_existing(store, spec, first_user_id)
            report = self._seed(
                store, spec, first_only=options["mal_first_importer_only"], verbosity=options["verbosity"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except MusicBudError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        if options["replace"]:
            async_to_sync(caching.invalidate_all)()
        last_user = spec.first_user_id + spec.users - 1
        self.stdout.write(f"users {spec.first_user_id}-{last_user}" if spec.users else "no users")
        for ct, count in report.interactions.items():
            first = spec.first_item.get(ct, 1)
            self.stdout.write(
                f"{ct.value}: {report.items[ct]} items (synthetic numbers {first}-{first + report.items[ct] - 1}), "
                f"{count} interactions"
            )
        replaced = ", cached pages dropped" if options["replace"] else ""
        self.stdout.write(f"seeded in {report.seconds:.1f} s{replaced}")

    @staticmethod
    def _after_existing(store: InteractionStore, spec: SeedSpec, first_user_id: int | None) -> SeedSpec:
        placed = (
            after_existing_people(store, spec) if isinstance(store, AccountGraphStore) else after_existing(store, spec)
        )
        if first_user_id is not None and first_user_id < placed.first_user_id:
            raise CommandError(
                f"user ids below {placed.first_user_id} are in use (accounts, interactions or forgotten users): "
                f"--first-user-id {first_user_id} would change them. Leave --first-user-id out to write after them, "
                "or pass --replace to overwrite."
            )
        if first_user_id is not None:
            return replace(placed, first_user_id=first_user_id)
        return placed

    @staticmethod
    def _seed(store: InteractionStore, spec: SeedSpec, *, first_only: bool, verbosity: int) -> SeedReport:
        progress = verbosity > 0
        if isinstance(store, AccountGraphStore):
            return seed_musicbud_graph(store, spec, first_importer_only=first_only, progress=progress)
        return seed_store(store, spec, progress=progress)
