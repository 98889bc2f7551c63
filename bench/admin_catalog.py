"""What the admin's catalog search and the hidden set cost, on both stores, with a large catalog.

Run: ``.venv/bin/python bench/admin_catalog.py [--items 50000] [--hidden 1000]`` (about a minute)

1. Starts PostgreSQL, Redis and Neo4j (scripts/services.sh), creates its own database (dropped at the end) and a
   graph of its own (a label prefix, removed at the end), and writes ``--items`` movies to both catalogs.
2. ``catalog.search_catalog`` (one full catalog read, filtered in Python: what each catalog page costs): median
   of 5 over a title search, a genre filter and the hidden-only filter, per store.
3. ``hiding.hidden_ids`` with ``--hidden`` items hidden: from the database (a miss) and from Redis (a hit),
   median of 20; and ``hiding.model_allowed`` over a model of ``--items`` items (what a computed page adds).

Prints readable lines, then one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.events import recreate_database, with_database  # noqa: E402

BENCH_DB = "musicbud_bench_admin"
GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Western")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def services() -> dict[str, str]:
    subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "up"], check=True, stdout=subprocess.DEVNULL)
    env: dict[str, str] = {}
    for line in (ROOT / ".services/services.env").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line.removeprefix("export ").split("=", 1)
            env[key] = value
    return env


def median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def catalog(items: int) -> list[Any]:
    from recommendations.domain import CatalogItem

    rng = np.random.default_rng(7)
    return [
        CatalogItem(
            f"tt{n:07d}",
            f"Title {n} of the {GENRES[n % 8].lower()} kind",
            tuple(sorted({GENRES[g] for g in rng.integers(0, 8, size=2).tolist()})),
            1950 + n % 70,
        )
        for n in range(1, items + 1)
    ]


def bench_search(label: str, repeat: int = 5) -> dict[str, float]:
    from recommendations.catalog import search_catalog
    from recommendations.domain import ContentType

    movies = ContentType.MOVIES
    result = {
        f"{label}_title_ms": median_ms(lambda: search_catalog(content_type=movies, text="title 4"), repeat),
        f"{label}_genre_ms": median_ms(lambda: search_catalog(content_type=movies, genre="western"), repeat),
        f"{label}_hidden_ms": median_ms(lambda: search_catalog(content_type=movies, hidden="yes"), repeat),
    }
    log(f"{label}: {result}")
    return result


async def bench_hidden(items: int, hidden: int) -> dict[str, float]:
    from recommendations import caching, hiding
    from recommendations.domain import ContentType
    from recommendations.engine.artifact import ModelArtifact

    movies = ContentType.MOVIES
    ids = [f"tt{n:07d}" for n in range(1, hidden + 1)]
    await hiding.hide_items(content_type=movies, item_ids=ids, by_user_id=None)
    misses, hits = [], []
    await caching.invalidate_all()  # the global generation exists once any page was cached
    for _ in range(20):
        await caching.invalidate_type("movies")
        started = time.perf_counter()
        await hiding.hidden_ids(movies)  # a miss: the database, then stored (the page's store starts generations)
        misses.append(time.perf_counter() - started)
    await hiding.hidden_ids(movies)
    for _ in range(20):
        started = time.perf_counter()
        found = await hiding.hidden_ids(movies)
        hits.append(time.perf_counter() - started)
    assert len(found) == hidden
    artifact = ModelArtifact.__new__(ModelArtifact)
    object.__setattr__(artifact, "item_ids", np.asarray([f"tt{n:07d}" for n in range(1, items + 1)], dtype=np.str_))
    mask_ms = median_ms(lambda: hiding.model_allowed(artifact, None, found), 20)
    result = {
        "hidden": hidden,
        "hidden_ids_db_ms": round(statistics.median(misses) * 1000, 2),
        "hidden_ids_cached_ms": round(statistics.median(hits) * 1000, 3),
        "model_allowed_ms": mask_ms,
    }
    log(f"hidden set: {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--hidden", type=int, default=1_000)
    args = parser.parse_args()

    service = services()
    prefix = f"Bench{uuid.uuid4().hex[:8]}"
    env = {
        **service, "DATABASE_URL": with_database(service["DATABASE_URL"], BENCH_DB), "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48), "RECOMMENDATIONS_SOURCE": "database", "LOG_LEVEL": "WARNING",
        "NEO4J_LABEL_PREFIX": prefix,
    }  # fmt: skip
    recreate_database(service["DATABASE_URL"], create=True, name=BENCH_DB)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env={**os.environ, **env},
            check=True,
        )  # fmt: skip
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicbud.settings")
        import django

        django.setup()
        from django.conf import settings

        from musicbud import graph
        from recommendations.data import get_graph_store, get_interaction_store
        from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph

        items = catalog(args.items)
        get_interaction_store().upsert_catalog("movies", items)
        result: dict[str, Any] = {"items": args.items} | bench_search("orm")
        result |= asyncio.run(bench_hidden(args.items, args.hidden))
        store = get_graph_store()
        store.ensure_schema()
        try:
            store.upsert_catalog("movies", items)
            settings.RECOMMENDATIONS_SOURCE = "neo4j"
            result |= bench_search("neo4j")
        finally:
            drop_prefixed_graph(graph.get_driver(), GraphLabels(prefix))
    finally:
        from django.db import connections

        connections.close_all()
        recreate_database(service["DATABASE_URL"], create=False, name=BENCH_DB)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
