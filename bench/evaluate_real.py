"""Model vs popularity on the shared real datasets (MovieLens 100K and the MyAnimeList sample).

Run: ``.venv/bin/python bench/evaluate_real.py [--epochs N ...any EngineConfig override as --key value]``

- MovieLens 100K: each user's latest 20% of ratings by timestamp is the test set (no future leaks).
- Anime sample: the file has no timestamps, so each user's test set is a random 20% of their rows
  (seeded). Ratings of -1 ("watched, not rated") are WATCHED events in training and count as relevant
  in the test set like every other row.
All test rows are relevant (the user chose to consume the item); the ``>= 4`` / ``>= 8`` columns repeat
the evaluation counting only well-rated test items.

Prints a markdown table, then one JSON object as the last line. The data stays outside the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommendations.domain import CatalogItem, InteractionArrays, InteractionKind
from recommendations.engine.config import EngineConfig
from recommendations.engine.evaluation import (
    EvaluationReport,
    evaluate_artifact,
    random_split,
    time_split,
)
from recommendations.engine.train import train_model

ML_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


def shared_data() -> Path:
    return Path(os.environ.get("MUSICBUD_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_movielens(root: Path) -> tuple[InteractionArrays, list[CatalogItem]]:
    raw = np.loadtxt(root / "ml-100k" / "u.data", dtype=np.int64)
    arrays = InteractionArrays(
        user_ids=raw[:, 0],
        item_ids=raw[:, 1].astype(np.str_),
        kinds=np.full(raw.shape[0], InteractionKind.RATED, dtype=np.int8),
        values=raw[:, 2].astype(np.float32),
        timestamps=raw[:, 3],
    )
    catalog = []
    with (root / "ml-100k" / "u.item").open(encoding="latin-1") as f:
        for line in f:
            fields = line.rstrip("\n").split("|")
            flags = fields[-19:]
            genres = tuple(name for name, flag in zip(ML_GENRES, flags, strict=True) if flag == "1")
            catalog.append(CatalogItem(item_id=fields[0], title=fields[1], genres=genres))
    return arrays, catalog


def load_anime(root: Path) -> tuple[InteractionArrays, list[CatalogItem]]:
    rows = np.loadtxt(root / "anime-small" / "rating.csv", dtype=np.int64, delimiter=",", skiprows=1)
    unrated = rows[:, 2] < 0
    arrays = InteractionArrays(
        user_ids=rows[:, 0],
        item_ids=rows[:, 1].astype(np.str_),
        kinds=np.where(unrated, InteractionKind.WATCHED, InteractionKind.RATED).astype(np.int8),
        values=np.where(unrated, np.nan, rows[:, 2]).astype(np.float32),
        timestamps=np.zeros(rows.shape[0], dtype=np.int64),
    )
    catalog = []
    with (root / "anime-small" / "anime.csv").open(encoding="utf-8", newline="") as f:
        for record in csv.DictReader(f):
            genres = tuple(g.strip() for g in record["genre"].split(",") if g.strip())
            catalog.append(CatalogItem(item_id=record["anime_id"], title=record["name"], genres=genres))
    return arrays, catalog


def datasets(root: Path) -> dict[str, tuple[InteractionArrays, InteractionArrays, list[CatalogItem], float]]:
    """name -> (train, test, catalog, rating threshold of a "good" test item)."""
    ml, ml_catalog = load_movielens(root)
    anime, anime_catalog = load_anime(root)
    ml_train, ml_test = time_split(ml, 0.2)
    anime_train, anime_test = random_split(anime, 0.2, seed=0)
    return {
        "ml-100k (time split)": (ml_train, ml_test, ml_catalog, 4.0),
        "anime (random split)": (anime_train, anime_test, anime_catalog, 8.0),
    }


def run(config: EngineConfig, root: Path, k: int = 10) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, (train, test, catalog, good) in datasets(root).items():
        started = time.perf_counter()
        artifact = train_model(train, catalog, config)
        seconds = time.perf_counter() - started
        results[name] = {
            "all": evaluate_artifact(artifact, test, k=k, train_seconds=seconds),
            f">={good:g}": evaluate_artifact(artifact, test, k=k, min_rating=good, train_seconds=seconds),
        }
    return results


def table(results: dict[str, dict[str, Any]], k: int) -> str:
    lines = [
        f"| dataset | relevant | users | model ndcg@{k} | pop ndcg@{k} | lift | model P@{k} | pop P@{k} "
        f"| model R@{k} | pop R@{k} | model cov | pop cov | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, by_relevance in results.items():
        for relevance, report in by_relevance.items():
            assert isinstance(report, EvaluationReport)
            m, p = report.model, report.popularity
            lift = (m.ndcg / p.ndcg - 1.0) * 100 if p.ndcg else float("nan")
            lines.append(
                f"| {name} | {relevance} | {report.users} | {m.ndcg:.4f} | {p.ndcg:.4f} | {lift:+.0f}% "
                f"| {m.precision:.4f} | {p.precision:.4f} | {m.recall:.4f} | {p.recall:.4f} "
                f"| {m.coverage:.3f} | {p.coverage:.3f} | {report.fit_seconds:.1f} |"
            )
    return "\n".join(lines)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        overrides[key] = json.loads(raw)
    return overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--set", nargs="*", default=[], help="EngineConfig overrides as key=json, e.g. epochs=20")
    args = parser.parse_args()
    root = shared_data()
    if not (root / "ml-100k").is_dir() or not (root / "anime-small").is_dir():
        sys.exit(f"shared data not found under {root} (set MUSICBUD_SHARED_DATA)")
    config = EngineConfig.from_overrides(parse_overrides(args.set))
    results = run(config, root, args.k)
    print(table(results, args.k))
    summary = {
        name: {relevance: report.summary() for relevance, report in by_relevance.items()}
        for name, by_relevance in results.items()
    }
    print(json.dumps({"config_overrides": parse_overrides(args.set), "results": summary}))


if __name__ == "__main__":
    main()
