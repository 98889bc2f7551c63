"""Prepare the embedded demo: users, sample data, trained models, demo feedback, and the curl lines to try them.

Quiet by design: what seeding and training say (stages, epochs, every library's INFO lines) goes to a log
file under the data folder (``DEMO_LOG``), the terminal gets one line per step and, last, the "try it" block
(passwords and curl lines), so it is what a newcomer sees when the server starts.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
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
DEMO_LOG = "demo-setup.log"  # under settings.DATA_DIR


@contextmanager
def logs_to(path: Path) -> Iterator[None]:
    """Every log line of this process into ``path`` (and not to the terminal) while the block runs."""
    root = logging.getLogger()
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved, level = root.handlers[:], root.level
    root.handlers, root.level = [handler], min(level, logging.INFO)
    try:
        yield
    finally:
        root.handlers, root.level = saved, level
        handler.close()


class Command(BaseCommand):
    help = (
        "DEBUG only: (re)create the admin and demo users with new passwords, seed sample data, train every type, "
        "record demo feedback (seed_demo_events), then print how to try it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where the server will answer, for the printed curl lines (default: %(default)s)",
        )
        parser.add_argument(
            "--no-events",
            action="store_true",
            help="skip the demo feedback (seed_demo_events; default: recorded, needs EVENTS_MAX_AGE_DAYS=28 for "
            "four weeks)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup resets passwords: it only runs with DEBUG=true")
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        log_path = settings.DATA_DIR / DEMO_LOG
        self.stdout.write(f"preparing the demo (details in {log_path})")
        with logs_to(log_path):
            report = seed_store(get_interaction_store(), DEMO_SPEC, progress=False)
            seeded = ", ".join(f"{ct.value} {report.items[ct]} items" for ct in report.items)
            total = sum(report.interactions.values())
            self.stdout.write(f"  seeded sample data (idempotent): {seeded}, {total} interactions")
            for ct in ContentType:
                log = train_content_type(ct, triggered_by="demo", progress=self._progress(ct))
                seconds = "-" if log.duration_s is None else f"{log.duration_s:.1f}"
                self.stdout.write(f"  trained {ct.value}: {log.status}, ndcg@10 {_rounded(log.ndcg_at_k)}, {seconds} s")
            if not options["no_events"]:
                call_command("seed_demo_events", stdout=self.stdout)
        passwords = {username: self._user(username, staff) for username, staff in (("admin", True), ("demo", False))}
        self.stdout.write(self._try_it(options["base_url"], passwords))

    @staticmethod
    def _try_it(base: str, passwords: dict[str, str]) -> str:
        movies_model = current_model(ContentType.MOVIES)
        similar_to = str(movies_model.item_ids[0]) if movies_model is not None else "tt800000001"
        return (
            f"\nTry it: the server starts on {base} (Ctrl-C stops it); the admin is at {base}/admin/ (user admin).\n"
            f"  TOKEN=$(curl -s -X POST {base}/v1/auth/token/ -H 'Content-Type: application/json' "
            f'-d \'{{"username": "demo", "password": "{passwords["demo"]}"}}\' '
            "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access\"])')\n"
            f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/v1/recommendations/movies/?limit=5'\n"
            f"  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/v1/recommendations/?limit=3'\n"
            f'  curl -s -H "Authorization: Bearer $TOKEN" '
            f"'{base}/v1/recommendations/movies/{similar_to}/similar/?limit=5'\n"
            f"  passwords: admin {passwords['admin']!r}, demo {passwords['demo']!r}\n"
        )

    @staticmethod
    def _progress(ct: ContentType) -> Callable[[str], None]:
        logger = logging.getLogger("recommendations.demo")
        return lambda message: logger.info("[%s] %s", ct.value, message)

    def _user(self, username: str, staff: bool) -> str:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = staff
        user.set_password(password)
        user.save()
        return password


def _rounded(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
