"""Drop every cached recommendation dataset, on the running server too (the cache is shared)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from recommendations import caching


class Command(BaseCommand):
    help = (
        "Drop every cached recommendation dataset: pages, browsing and public lists, bud pages, hidden sets, the "
        "popular/trending pools and the catalog index (fresh and last good), for every worker sharing the cache."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            keys = async_to_sync(caching.invalidate_all)()
        except caching.InvalidationPending as exc:
            raise CommandError(
                f"{exc.code}: the cache did not answer; the clear is recorded and retried when it does "
                f"({exc.pending} invalidations pending)"
            ) from exc
        self.stdout.write(f"dropped every cached recommendation dataset ({keys} keys: the global generation, pools, "
                          "catalog indexes)")  # fmt: skip
