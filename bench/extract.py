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

With ``--graph-profile musicbud`` the graph has MusicBud's shape (people -> ImdbUser accounts -> edges
without properties, movies keyed without "tt"): ``extract_s`` then includes mapping accounts to users
(Django usernames) and joining each edge's first-seen time from our database (a SQLite file of the
benchmark's own); ``first_extract_s`` is the first extraction, which also records those first-seen times;
the bare query is the natural one in that shape (per movie, each edge's person uid and relationship type,
through the account). Seeding writes edges with MERGE from one writer (MusicBud's importers do the same),
so ``seed_s`` has no target there.

Targets: extract_s <= 1.3 x bare_driver_s and <= 3 s; seed_s <= 60 s (native). Extraction timings are the
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


def start_services(profile: str) -> None:
    subprocess.run([str(REPO / "scripts" / "services.sh"), "up", "neo4j"], check=True, stdout=subprocess.DEVNULL)
    for line in (REPO / ".services" / "services.env").read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if name.startswith("NEO4J_"):
            os.environ[name] = value
    os.environ.setdefault("DEBUG", "true")
    os.environ["RECOMMENDATIONS_SOURCE"] = "neo4j"
    os.environ["NEO4J_GRAPH_PROFILE"] = profile
    os.environ["MUSICBUD_ENV_FILE"] = ""
    if profile == "musicbud":
        # First-seen times and usernames live in the Django database: a SQLite file of our own.
        import tempfile

        os.environ.pop("DATABASE_URL", None)
        os.environ["MUSICBUD_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-extract-")
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
    parser.add_argument("--graph-profile", choices=["native", "musicbud"], default="native")
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
    musicbud = store.labels.profile.accounts
    # Picks of popular items collide a little; MusicBud's graph also has no dislikes (about 7%).
    per_user = int(args.interactions / args.users * (1.25 if musicbud else 1.06)) + 1
    spec = SeedSpec(users=args.users, items={ct: args.movies}, seed=1, interactions_per_user=per_user)
    generate_s, generated = timed(lambda: generate_content(spec, ct))
    assert isinstance(generated, ContentDataset)
    store.ensure_schema()
    if musicbud:
        write_musicbud(store, generated, args.interactions)
        n = args.interactions
    else:
        n = min(args.interactions, len(generated.interactions))
        dataset = ContentDataset(ct, generated.catalog, take(generated.interactions, np.arange(n)))
        write_dataset(store, dataset, progress=sys.stderr.isatty())
    seed_s = time.perf_counter() - started
    print(f"seeded {n:,} interactions in {seed_s:.1f} s (generating them: {generate_s:.1f} s)")
    return n, seed_s, generate_s


def write_musicbud(store: Any, generated: Any, n: int) -> None:
    """The first ``n`` interactions MusicBud's graph can hold, with their people and accounts."""
    import numpy as np

    from recommendations.data.arrays import take
    from recommendations.data.loading import WRITE_BATCH
    from recommendations.data.musicbud_seeding import musicbud_edges, seed_person
    from recommendations.data.neo4j_accounts import write_people
    from recommendations.domain import ContentType

    ct = ContentType.MOVIES
    edges = musicbud_edges(ct, generated.interactions, first_importer_only=False)
    assert len(edges) >= n, f"generated {len(edges)} edges, fewer than {n}"
    edges = take(edges, np.arange(n))
    people = {user: seed_person(user) for user in np.unique(edges.user_ids).tolist()}
    write_people(store, list(people.values()))
    store.upsert_catalog(ct, generated.catalog)
    persons = np.asarray([people[user].uid for user in edges.user_ids.tolist()], dtype=np.str_)
    for start in range(0, n, WRITE_BATCH):
        rows = slice(start, start + WRITE_BATCH)
        store.write_edges(ct, persons[rows], edges.item_ids[rows], edges.kinds[rows])


def warm_up(args: argparse.Namespace) -> None:
    """Seed and extract 10% of the data under a throwaway prefix, so the timed runs meet a warm JVM.

    A just-started Neo4j compiles its query plans and JIT-compiles its write and read paths on first
    use; a production server has long done that. Without this the first seeding runs up to 2x slower.
    """
    from musicbud.graph import get_driver
    from recommendations.data.graph_profiles import get_profile
    from recommendations.data.loading import write_dataset
    from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
    from recommendations.data.neo4j_store import graph_store
    from recommendations.data.seeding import SeedSpec, generate_content
    from recommendations.domain import ContentType

    ct = ContentType.MOVIES
    store = graph_store(GraphLabels("BenchWarm", get_profile(args.graph_profile)))
    drop_prefixed_graph(get_driver(), store.labels)
    users = max(1, args.users // 10)
    spec = SeedSpec(users=users, items={ct: args.movies}, seed=2, interactions_per_user=args.interactions // args.users)
    started = time.perf_counter()
    store.ensure_schema()
    if store.labels.profile.accounts:
        generated = generate_content(spec, ct)
        write_musicbud(store, generated, len(generated.interactions) * 8 // 10)
    else:
        write_dataset(store, generate_content(spec, ct), progress=False)
    store.all_interactions(ct)
    drop_prefixed_graph(get_driver(), store.labels)
    print(f"warmed up Neo4j in {time.perf_counter() - started:.1f} s")


def bare_queries(store: Any) -> dict[str, str]:
    from recommendations.data.neo4j_schema import kind_case, rel_types
    from recommendations.data.validation import ALLOWED_KINDS
    from recommendations.domain import ContentType

    ct = ContentType.MOVIES
    if store.labels.profile.accounts:
        labels, mapping = store.labels, store.labels.profile.content[ct]
        return {
            # Who did what to each movie, the natural way: through the account to the person.
            "bare": (
                f"MATCH (m:`{labels.item(ct)}`) CALL (m) {{ MATCH (m)<-[r:{'|'.join(mapping.rel_types())}]-"
                f"(:`{labels.account(ct)}`)<-[:`{mapping.account.link}`]-(p:`{labels.user}`) "
                "RETURN collect(p.uid) AS users, collect(type(r)) AS kinds } RETURN m.imdb_id AS key, users, kinds"
            )
        }
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
    start_services(args.graph_profile)
    import django

    django.setup()
    from django.core.management import call_command

    from musicbud.graph import close_sync_driver, get_driver
    from recommendations.data.graph_profiles import get_profile
    from recommendations.data.neo4j_schema import GraphLabels, drop_prefixed_graph
    from recommendations.data.neo4j_store import graph_store
    from recommendations.domain import ContentType

    if args.graph_profile == "musicbud":
        call_command("migrate", verbosity=0)
    store = graph_store(GraphLabels("Bench", get_profile(args.graph_profile)))
    if not args.no_warm_up:
        warm_up(args)
    n, seed_s, generate_s = seed(store, args)
    first_extract_s = None
    if store.labels.profile.accounts:
        first_extract_s, _ = timed(lambda: store.all_interactions(ContentType.MOVIES))
        print(f"first extraction (records every edge's first-seen time): {first_extract_s:.2f} s")
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
        "graph_profile": args.graph_profile,
        "interactions": n,
        "seed_s": None if seed_s is None else round(seed_s, 2),
        "extract_s": round(median["extract"], 3),
        "bare_driver_s": round(median["bare"], 3),
        "extract_over_bare": round(median["extract"] / median["bare"], 3),
        "generate_s": None if generate_s is None else round(generate_s, 2),
        "popular_s": round(statistics.median(popular_runs), 3),
    }
    if first_extract_s is not None:
        result["first_extract_s"] = round(first_extract_s, 3)
    result.update({f"bare_driver_{name}_s": round(median[name], 3) for name in names[2:]})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
