"""Buds and batch export at 200k users, in-process against real PostgreSQL and Redis.

Run: ``.venv/bin/python bench/product.py [--users 200000] [--items 20000] [--callers 50]`` (about 2 min)

1. Starts PostgreSQL and Redis (scripts/services.sh), creates its own database (dropped at the end) with one
   account per model user (200k), and serves two synthetic models from a temporary MODEL_DIR: movies, a
   factor model (200k users x 20k items x 64 dims), and anime, an item-item model (200k users x 20k items,
   100 neighbours per item, 20 items per user). ``--callers`` users get their model history as interactions
   in the built-in store, so their buds are computed from their current history, as in production.
2. Buds for one user (``recommendations.buds.get_buds``, uncached: the history read, the scoring, the
   eligibility queries, the catalog titles of the reasons): p50 and p95 over the callers, per type and for
   ``all``; the first call after a model is loaded (its bud index is built then); the scoring alone; and a
   cached page (``pages.buds_page``, one Redis round trip).
3. Export throughput: ``export_recommendations --all`` of the factor model (users/s, JSON lines to
   /dev/null), and its anonymous resident memory after each chunk of users (flat: memory does not grow with
   the number of users).

Prints readable lines, then one JSON object as the last line.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per worker, as the server runs

import argparse
import asyncio
import dataclasses
import gc
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on sys.path, where bench/http.py would shadow the standard library's
# http package; the repository root replaces it.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.engine import synthetic_artifact, synthetic_item_item  # noqa: E402
from bench.events import recreate_database, services_env, with_database  # noqa: E402

BENCH_DB = "musicbud_bench_product"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def models(model_dir: Path, users: int, items: int) -> tuple[Any, Any]:
    from recommendations.engine import save_artifact

    log(f"building models: {users} users x {items} items")
    factors = synthetic_artifact(users, items, seed=1)
    # MyAnimeList ids for the anime model (equal widths, so string order is numeric order).
    anime = synthetic_item_item(users, items, neighbours=100, seed=2)
    anime = dataclasses.replace(anime, item_ids=np.array([str(100_000 + n) for n in range(items)], dtype=np.str_))
    save_artifact(factors, model_dir, "movies")
    save_artifact(anime, model_dir, "anime")
    return factors, anime


def fill_database(factors: Any, anime: Any, callers: np.ndarray) -> None:
    """An account per model user; the callers' model histories as LIKED interactions in the built-in store."""
    from django.db import connection

    from recommendations.data import get_interaction_store
    from recommendations.domain import CatalogItem, InteractionArrays

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined) SELECT 1000 + 7 * i, '!', false, 'bud-' || i, '', '', '', false, true, now()"
            " FROM generate_series(0, %s) AS i",
            [factors.n_users - 1],
        )
    store = get_interaction_store()
    for name, artifact in (("movies", factors), ("anime", anime)):
        rows = [artifact.user_index(int(uid)) for uid in callers]
        items = np.concatenate([artifact.seen.row(row)[0] for row in rows])
        store.upsert_catalog(
            name, [CatalogItem(str(artifact.item_ids[i]), f"Item {i}", ("Drama",)) for i in np.unique(items)]
        )
        users = np.concatenate(
            [np.full(artifact.seen.row(row)[0].shape[0], uid) for uid, row in zip(callers, rows, strict=True)]
        )
        store.write_interactions(
            name,
            InteractionArrays(
                user_ids=users.astype(np.int64),
                item_ids=artifact.item_ids[items],
                kinds=np.ones(items.shape[0], dtype=np.int8),
                values=np.full(items.shape[0], np.nan, dtype=np.float32),
                timestamps=np.full(items.shape[0], 1_700_000_000, dtype=np.int64),
            ),
        )
    log(
        f"database: {factors.n_users} accounts, {callers.shape[0]} callers' histories"
        f" in {time.perf_counter() - started:.1f}s"
    )


async def timed(fn: Callable[[int], Awaitable[Any]], callers: np.ndarray) -> list[float]:
    timings = []
    for uid in callers.tolist():
        started = time.perf_counter()
        await fn(int(uid))
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def summary(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2)}


async def bench_buds(callers: np.ndarray) -> dict[str, Any]:
    from recommendations import buds
    from recommendations.api import pages
    from recommendations.data import get_interaction_store
    from recommendations.domain import ContentType

    result: dict[str, Any] = {}
    kinds: tuple[tuple[str, buds.BudType], ...] = (("factor", "movies"), ("item_item", "anime"))
    for kind, ct in kinds:
        served = buds.served_models(ct)
        first = int(callers[0])
        started = time.perf_counter()
        page = await buds.get_buds(user_id=first, content_type=ct, limit=10, offset=0, models=served)
        result[f"{kind}_first_call_ms"] = round((time.perf_counter() - started) * 1000, 1)
        assert page.buds, page

        def one(uid: int, ct: buds.BudType = ct, served: dict[ContentType, Any] = served) -> Awaitable[buds.Buds]:
            return buds.get_buds(user_id=uid, content_type=ct, limit=10, offset=0, models=served)

        timings = await timed(one, callers)
        result[f"{kind}_buds"] = summary(timings)
        artifact = served[ContentType(ct)]
        history = await get_interaction_store().auser_history(ct, first)
        scoring = []
        for _ in range(20):
            started = time.perf_counter()
            buds.score_type(ContentType(ct), artifact, user_id=first, history=history, caller_masked=False)
            scoring.append((time.perf_counter() - started) * 1000)
        result[f"{kind}_scoring_only"] = summary(scoring)
        log(f"buds, {kind} model ({ct}): {result[f'{kind}_buds']}, first call {result[f'{kind}_first_call_ms']} ms,"
            f" scoring alone {result[f'{kind}_scoring_only']}")  # fmt: skip
    served = buds.served_models("all")
    timings = await timed(
        lambda uid: buds.get_buds(user_id=uid, content_type="all", limit=10, offset=0, models=served), callers
    )
    result["all_types_buds"] = summary(timings)
    log(f"buds, all types (both models): {result['all_types_buds']}")
    await timed(lambda uid: pages.buds_page(user_id=uid, content_type="all", limit=10, offset=0), callers)
    hits = await timed(lambda uid: pages.buds_page(user_id=uid, content_type="all", limit=10, offset=0), callers)
    result["cached_page"] = summary(hits)
    log(f"buds, a cached page: {result['cached_page']}")
    return result


def anonymous_rss_mb() -> float:
    """This process's resident anonymous memory (the model's memory-mapped pages are file-backed, not counted)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_export(users: int) -> dict[str, Any]:
    from recommendations.domain import ContentType
    from recommendations.exporting import export_recommendations

    samples: list[float] = []
    with open(os.devnull, "w") as out:
        started = time.perf_counter()
        done = export_recommendations(
            content_type=ContentType.MOVIES, user_ids=None, limit=10, fmt="jsonl", out=out,
            progress=lambda _: samples.append(anonymous_rss_mb()),
        )  # fmt: skip
        seconds = time.perf_counter() - started
    assert done.users == users
    first, peak = samples[0], max(samples)
    log(f"export: {users} users in {seconds:.1f}s = {users / seconds:,.0f} users/s; anonymous RSS after the first"
        f" chunk {first:.0f} MB, at most {peak:.0f} MB over {len(samples)} chunks")  # fmt: skip
    return {"export_users": users, "export_s": round(seconds, 1), "export_users_per_s": round(users / seconds),
            "export_rss_anon_first_chunk_mb": round(first), "export_rss_anon_max_mb": round(peak)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--callers", type=int, default=50)
    args = parser.parse_args()

    service = services_env()
    model_dir = Path(tempfile.mkdtemp(prefix="bench-product-"))
    env = {
        **service,
        "DATABASE_URL": with_database(service["DATABASE_URL"], BENCH_DB),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "RECOMMENDATIONS_SOURCE": "database",
        "MODEL_DIR": str(model_dir),
        "LOG_LEVEL": "WARNING",
    }
    for key in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
        env.pop(key, None)
        os.environ.pop(key, None)
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
        from django.db import connections

        factors, anime = models(model_dir, args.users, args.items)
        callers = np.random.default_rng(3).choice(factors.user_ids, size=args.callers, replace=False)
        fill_database(factors, anime, callers)
        del factors, anime  # served from MODEL_DIR (memory-mapped) from here on, as in production
        gc.collect()
        result = {"users": args.users, "items": args.items, "callers": args.callers}
        result |= asyncio.run(bench_buds(callers))
        result |= bench_export(args.users)
        connections.close_all()
    finally:
        recreate_database(service["DATABASE_URL"], create=False, name=BENCH_DB)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
