"""Prepare the embedded demo: users, sample data, trained models, and the curl lines to try them."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.data import get_interaction_store
from recommendations.data.seeding import SeedSpec, seed_store
from recommendations.domain import ContentType
from recommendations.recommending import current_model
from recommendations.training import train_content_type

DEMO_SPEC = SeedSpec(
    users=500,
    items={ContentType.MOVIES: 600, ContentType.MANGA: 300, ContentType.ANIME: 400},
    seed=2026,
    interactions_per_user=20,
)


class Command(BaseCommand):
    help = "DEBUG only: (re)create the admin and demo users, seed sample data, train every type."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup resets passwords: it only runs with DEBUG=true")
        passwords = {username: self._user(username, staff) for username, staff in (("admin", True), ("demo", False))}
        self.stdout.write("seeding sample data (idempotent)...")
        report = seed_store(get_interaction_store(), DEMO_SPEC, progress=False)
        for ct, count in report.interactions.items():
            self.stdout.write(f"  {ct.value}: {report.items[ct]} items, {count} interactions")
        for ct in ContentType:
            log = train_content_type(ct, triggered_by="demo", progress=self._progress(ct))
            self.stdout.write(f"  [{ct.value}] {log.status}, ndcg@10 {log.ndcg_at_k}")
        movies_model = current_model(ContentType.MOVIES)
        similar_to = str(movies_model.item_ids[0]) if movies_model is not None else "tt0000001"
        base = options["base_url"]
        self.stdout.write(
            f"\nTry it (the admin site is at {base}/admin/, user admin):\n"
            f"  TOKEN=$(curl -s -X POST {base}/v1/auth/token/ -H 'Content-Type: application/json' "
            f'-d \'{{"username": "demo", "password": "{passwords["demo"]}"}}\' '
            "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access\"])')\n"
            f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/v1/recommendations/movies/?limit=5'\n"
            f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/v1/recommendations/?limit=3'\n"
            f'  curl -s -H "Authorization: Bearer $TOKEN" '
            f"'{base}/v1/recommendations/movies/{similar_to}/similar/?limit=5'\n"
            f"  passwords: admin {passwords['admin']!r}, demo {passwords['demo']!r}\n"
        )

    def _progress(self, ct: ContentType) -> Callable[[str], None]:
        return lambda message: self.stdout.write(f"  [{ct.value}] {message}")

    def _user(self, username: str, staff: bool) -> str:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = staff
        user.set_password(password)
        user.save()
        return password
