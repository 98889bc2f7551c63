"""Interaction extraction benchmark: 1M interactions out of Neo4j into numpy arrays.

Run: ``.venv/bin/python bench/extract.py`` (starts Neo4j with scripts/services.sh if it is not running).

It seeds 1M synthetic movie interactions into a graph of its own (label prefix ``Bench``: the server is
shared, so only the benchmark's own nodes are wiped, before and after) and measures, in one run:
- ``seed_s``: generating the data and writing it through the data service (UNWIND + MERGE batches);
- ``extract_s``: ``Neo4jInteractionStore.all_interactions()``, i.e. every batch query, decoding and the
  conversion to InteractionArrays (numpy), in the canonical order;
- ``bare_driver_s``: the bare ``neo4j`` driver running the natural single query (one record per item,
  its interactions as lists of scalars) and keeping the records: no degree query, no batches, no numpy,
  no ordering. (The service returns one record per batch of items and runs two batch queries at a time.)
- ``popular_s``: ``popular_items`` (top 1000 of the year's recency-weighted events), for context;
- with ``--context``: ``bare_driver_fat_s`` (20 records of lists of lists) and ``bare_driver_per_row_s``
  (one record per interaction, the naive query), to show what the record shape costs.

Targets: extract_s <= 1.3 x bare_driver_s and <= 3 s; seed_s <= 60 s. Extraction timings are the
median of ``--repeat`` interleaved runs (the machine may be shared). Readable lines first, then one
JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Run as a script, Python puts bench/ first on the path, where a module may shadow the standard library
# (bench/http.py hides `http`): import from the repository root instead.
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]


def start_services() -> None:
    subprocess.run([str(REPO / "scripts" / "services.sh"), "up", "neo4j"], check=True, stdout=subprocess.DEVNULL)
    for line in (REPO / ".services" / "services.env").read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if name.startswith("NEO4J_"):
            os.environ[name] = value
    os.environ.setdefault("DEBUG", "true")
    os.environ["RECOMMENDATIONS_SOURCE"] = "neo4j"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicbud.settings")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--movies", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the benchmark's graph in place")
    parser.add_argument("--reuse", action="store_true", help="skip seeding if the graph is already there")
    parser.add_argument("--context", action="store_true", help="also time per-item and per-row bare queries")
    parser.add_argument("--no-warm-up", action="store_true", help="time a cold JVM (see warm_up)")
    return parser.parse_args()


def seed(store: Any, args: argparse.Namespace) -> tuple[int, float | None, float | None]:
    """(interactions in the graph, seeding seconds, generation seconds); no timings when reused."""
    import numpy as np

    from musicbud.graph import get_driver
    from recommendations.data.arrays import take
    from recommendations.data.loading import ContentDataset, write_dataset
    from recommendations.data.neo4j_schema import drop_prefixed_graph
    from recommendations.data.seeding import SeedSpec, generate_content
    from recommendations.domain import ContentType

    ct = ContentType.MOVIES
    if args.reuse:
        n = len(store.all_interactions(ct))
        if n == args.interactions:
            print(f"reusing the benchmark graph ({n:,} interactions): no seeding time measured")
            return n, None, None
    wipe_s, _ = timed(lambda: drop_prefixed_graph(get_driver(), store.labels))
    print(f"wiped the previous benchmark graph in {wipe_s:.1f} s")
    started = time.perf_counter()
    per_user = int(args.interactions / args.users * 1.06) + 1  # picks of popular items collide a little
    spec = SeedSpec(users=args.users, items={ct: args.movies}, seed=1, interactions_per_user=per_user)
    generate_s, generated = timed(lambda: generate_content(spec, ct))
    assert isinstance(generated, ContentDataset)
    n = min(args.interactions, len(generated.interactions))
    dataset = ContentDataset(ct, generated.catalog, take(generated.interactions, np.arange(n)))
    store.ensure_schema()
    write_dataset(store, dataset, progress=sys.stderr.isatty())
    seed_s = time.perf_counter() - started
    print(f"seeded {n:,} interactions in {seed_s:.1f} s (generating them: {generate_s:.1f} s)")
    return n, seed_s, generate_s


def warm_up(args: argparse.Namespace) -> None:
    """Seed and extract 10% of the data under a throwaway prefix, so the timed runs meet a warm JVM.

    A just-started Neo4j compiles its query plans and JIT-compiles its write and read paths on first
    use; a production server has long done that. Without this the first seeding runs up to 2x slower.
    """
    from musicbud.graph import get_driver
    from recommendations.data.loading import write_dataset
    from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
    from recommendations.data.neo4j_store import Neo4jInteractionStore
    from recommendations.data.seeding import SeedSpec, generate_content
    from recommendations.domain import ContentType

    ct = ContentType.MOVIES
    store = Neo4jInteractionStore(GraphLabels("BenchWarm"))
    drop_prefixed_graph(get_driver(), store.labels)
    users = max(1, args.users // 10)
    spec = SeedSpec(users=users, items={ct: args.movies}, seed=2, interactions_per_user=args.interactions // args.users)
    started = time.perf_counter()
    store.ensure_schema()
    write_dataset(store, generate_content(spec, ct), progress=False)
    store.all_interactions(ct)
    drop_prefixed_graph(get_driver(), store.labels)
    print(f"warmed up Neo4j in {time.perf_counter() - started:.1f} s")


def bare_queries(store: Any) -> dict[str, str]:
    from recommendations.data.neo4j_schema import kind_case, rel_types
    from recommendations.data.validation import ALLOWED_KINDS
    from recommendations.domain import ContentType

    ct = ContentType.MOVIES
    user, movie, rels = store.labels.user, store.labels.item(ct), rel_types(sorted(ALLOWED_KINDS[ct]))
    lists = (
        f"CALL (m) {{ MATCH (m)<-[r:{rels}]-(u:`{user}`) "
        f"RETURN collect(u.user_id) AS users, collect({kind_case('r')}) AS kinds, "
        "collect(coalesce(r.value, $nan)) AS values, collect(r.ts) AS ts } "
    )
    return {
        # The service's record shape (one record per item, its interactions as lists) in ONE query:
        # no degree query, no batches, no numpy, no ordering.
        "bare": f"MATCH (m:`{movie}`) {lists} RETURN m.imdb_id AS key, users, kinds, values, ts",
        # For context: everything in 20 fat records (lists of lists), and one record per interaction.
        "fat": (
            f"MATCH (m:`{movie}`) WITH collect(m) AS movies UNWIND range(0, size(movies) - 1, 1000) AS start "
            "CALL (movies, start) { UNWIND movies[start..start + 1000] AS m "
            f"{lists} RETURN collect(m.imdb_id) AS keys, collect(users) AS users, collect(kinds) AS kinds, "
            "collect(values) AS values, collect(ts) AS ts } RETURN keys, users, kinds, values, ts"
        ),
        "per_row": (
            f"MATCH (u:`{user}`)-[r:{rels}]->(m:`{movie}`) "
            f"RETURN u.user_id AS user, m.imdb_id AS key, {kind_case('r')} AS kind, r.value AS value, r.ts AS ts"
        ),
    }


def run_bare(text: str) -> int:
    """Run a query with the bare driver, keep its records, return how many interactions came back."""
    from musicbud.graph import get_driver

    with get_driver().session(fetch_size=10_000) as session:
        records = list(session.run(text, nan=float("nan")))
    if "users" not in records[0].keys():  # noqa: SIM118 - a Record's `in` looks at values, not keys
        return len(records)
    if records[0]["users"] and isinstance(records[0]["users"][0], list):
        return sum(len(users) for r in records for users in r["users"])
    return sum(len(r["users"]) for r in records)


def main() -> None:
    args = parse_args()
    start_services()
    import django

    django.setup()
    from musicbud.graph import close_sync_driver, get_driver
    from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
    from recommendations.data.neo4j_store import Neo4jInteractionStore
    from recommendations.domain import ContentType

    store = Neo4jInteractionStore(GraphLabels("Bench"))
    if not args.no_warm_up:
        warm_up(args)
    n, seed_s, generate_s = seed(store, args)
    queries = bare_queries(store)
    names = ["extract", "bare", *(["fat", "per_row"] if args.context else [])]
    runs: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.repeat):  # interleaved, so a burst of load elsewhere hits every variant alike
        extract_s, arrays = timed(lambda: store.all_interactions(ContentType.MOVIES))
        assert len(arrays) == n  # type: ignore[arg-type]
        runs["extract"].append(extract_s)
        for name in names[1:]:
            seconds, rows = timed(lambda name=name: run_bare(queries[name]))  # type: ignore[misc]
            assert rows == n, (name, rows, n)
            runs[name].append(seconds)
    popular_runs = [timed(lambda: store.popular_items(ContentType.MOVIES, limit=1000))[0] for _ in range(args.repeat)]
    median = {name: statistics.median(values) for name, values in runs.items()}
    for name, values in runs.items():
        print(f"{name:8s} runs: " + ", ".join(f"{v:.2f}" for v in values) + f" s; median {median[name]:.2f} s")
    print(f"extract / bare driver = {median['extract'] / median['bare']:.2f}")
    print(f"popular items (top 1000 over a year of 1M events): median {statistics.median(popular_runs):.2f} s")

    if not args.keep:
        drop_prefixed_graph(get_driver(), store.labels)
    close_sync_driver()
    result: dict[str, Any] = {
        "interactions": n,
        "seed_s": None if seed_s is None else round(seed_s, 2),
        "extract_s": round(median["extract"], 3),
        "bare_driver_s": round(median["bare"], 3),
        "extract_over_bare": round(median["extract"] / median["bare"], 3),
        "generate_s": None if generate_s is None else round(generate_s, 2),
        "popular_s": round(statistics.median(popular_runs), 3),
    }
    result.update({f"bare_driver_{name}_s": round(median[name], 3) for name in names[2:]})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
