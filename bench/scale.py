"""What a retrain and a served model cost as the data grows: measured here, fitted, extrapolated.

Run: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/scale.py`` (about 8 min on the 2 vCPUs; ``--sizes``
and ``--iterations`` change it). For each size (default 0.25M, 1M and 4M interactions; 20 per user,
items drawn from a Zipf-like popularity over 20,000 items, so a few are hot and most are rare):

- the refit of an ALS model as training runs it (``fit_candidate`` of engine/candidates.py: the
  weighted matrix, the fit, the artifact's popularity and seen lists), locally (implicit, 2 threads)
  and on Spark (MLlib on local[2], the same matrix written as Parquet and read by Spark);
- the served model's size: the artifact's files as ``save_artifact`` writes them (what a server
  memory-maps; resident once every page has been touched), against the formula of docs/capacity.md;
- the training process's peak heap (tracemalloc, one untimed local refit): what the training host
  (or, on Spark, the driver) holds per interaction.

Then the time model ``seconds = a + b * positives`` (ALS is linear in the positive pairs at a fixed
rank and iteration count; ``a`` is the fixed part: the JVM's job planning and the Parquet hand-over on
Spark) is fitted by least squares to each trainer's points and printed with each point's error, and
checked by fitting it to the two smaller points only and predicting the largest. Last line: JSON.

``--iterations`` defaults to 5 (the engine trains 15: ALS's time is linear in its iterations, so the
15-iteration time is 3x the fitted ``b`` part); it keeps Spark's 4M point near two minutes here.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as in the server; implicit sets its own threads

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommendations.domain import InteractionArrays, InteractionKind
from recommendations.engine.artifact import save_artifact
from recommendations.engine.candidates import Candidate, Context, fit_candidate
from recommendations.engine.config import EngineConfig
from recommendations.engine.matrix import build_interaction_matrix
from recommendations.engine.spark import SparkOptions, spark_session

REPO = Path(__file__).resolve().parents[1]
ITEMS = 20_000
PER_USER = 20
FACTORS = 32
ITEM_ID_CHARS = 9  # "tt0111161": IMDb ids, the longest of our id formats


def synthetic(n: int, seed: int = 0) -> InteractionArrays:
    """``n`` interactions of ``n / PER_USER`` users; item popularity ~ 1/rank (Zipf-like), kinds mixed."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n // PER_USER, dtype=np.int64), PER_USER)
    rank = np.minimum((rng.pareto(1.0, n) * 50).astype(np.int64), ITEMS - 1)
    kinds = rng.choice([InteractionKind.LIKED, InteractionKind.WATCHED, InteractionKind.DISLIKED], n, p=[0.6, 0.3, 0.1])
    return InteractionArrays(
        user_ids=users,
        item_ids=np.char.add("tt", np.char.zfill(rank.astype(np.str_), ITEM_ID_CHARS - 2)),
        kinds=kinds.astype(np.int8),
        values=np.full(n, np.nan, dtype=np.float32),
        timestamps=1_700_000_000 + rng.integers(0, 180 * 86_400, n),
    )


def model_bytes(users: int, items: int, pairs: int, factors: int) -> int:
    """The served artifact's arrays (docs/capacity.md): factors, ids and per-item scores, seen lists."""
    per_user = 8 + 4 + 8 + 4 * factors  # id, bias, seen_indptr, factors
    per_item = 4 * ITEM_ID_CHARS + 4 * 4 + 4 * factors  # id (UTF-32), bias, norm, popularity, trending
    per_pair = 4 + 4 + 8  # seen index, weight, timestamp
    return users * per_user + items * per_item + pairs * per_pair


def cpu_seconds(spark: SparkOptions | None) -> float:
    """CPU time of this process (every thread: implicit's, numpy's) and, with Spark, of its JVM (on a
    local master the executors are the JVM's threads). On a shared machine this is the steadier measure:
    the others' load stretches the wall time of a fit, not the work it does."""
    own = time.process_time()
    if spark is None:
        return own
    jvm = spark_session(spark).sparkContext._gateway.proc.pid  # PySpark's child: the JVM itself
    fields = Path(f"/proc/{jvm}/stat").read_text().rsplit(")", 1)[1].split()
    return own + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def refit(arrays: InteractionArrays, config: EngineConfig, model: str, spark: SparkOptions | None) -> dict[str, Any]:
    cpu = cpu_seconds(spark if model == "spark_als" else None)
    started = time.perf_counter()
    matrix = build_interaction_matrix(arrays, config)
    matrix_s = time.perf_counter() - started
    ctx = Context(matrix=matrix, arrays=arrays, catalog=[], config=config, spark=spark)
    regularization = config.spark_als_regularizations[0] if model == "spark_als" else config.als_regularizations[0]
    candidate = Candidate(model, {"factors": float(FACTORS), "regularization": regularization, "alpha": 5.0})
    artifact = fit_candidate(ctx, candidate)
    total = time.perf_counter() - started
    cpu = cpu_seconds(spark if model == "spark_als" else None) - cpu
    return {"artifact": artifact, "seconds": total, "matrix_s": matrix_s, "fit_s": artifact.metadata["fit_seconds"],
            "cpu_s": cpu}  # fmt: skip


def training_peak_bytes(size: int, config: EngineConfig) -> int:
    """The training process's peak heap for a local refit at this size: the extracted arrays, the
    matrix, the fit's factors and the artifact (tracemalloc sees numpy's buffers). Not timed: tracing
    slows allocation. A Spark training holds the same arrays, matrix and artifact in its driver."""
    tracemalloc.start()
    try:
        refit(synthetic(size), config, "als", None)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# Far above any real account id: the measurement's keys cannot be a real user's.
BENCH_USER_BASE = 10**12


def page_cache_bytes(redis_url: str, users: int) -> dict[str, float]:
    """Redis memory per cached page: ``users`` first pages (limit 10) rendered by the API's serializer and
    stored by ``PageSlot.store`` (key, generation tag, body, TTL, and each user's generation key), as Redis'
    ``used_memory`` before and after. Its keys are deleted afterwards; nothing else is touched."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "musicbud.settings")
    os.environ.update({"DEBUG": "true", "REDIS_URL": redis_url, "MUSICBUD_ENV_FILE": ""})
    # Run as a script, bench/ is on sys.path, where bench/http.py would shadow the http Django imports.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
    import asyncio

    import django
    import redis

    django.setup()
    from musicbud.cache import KEY_PREFIX
    from recommendations.api.pages import render
    from recommendations.api.serializers import RecommendationPageSerializer
    from recommendations.caching import PageSlot, user_generation_key
    from recommendations.recommending import ItemInfo, Reason, RecommendationPage, RecommendedItem

    # Titles and genres as long as MovieLens' (median title 24 characters, 2 genres).
    liked = ItemInfo("tt0111161", "The Shawshank Redemption", ("Drama",))
    items = tuple(
        RecommendedItem(f"tt{9_000_000 + n:07d}", f"A Film of Median Length {n}", ("Drama", "Thriller"),
                        score=1.0 / (n + 1), rank=n + 1, reason=Reason("because_you_liked", liked))
        for n in range(10)
    )  # fmt: skip
    version = "20261202T010121957419Z-dacbda"
    body = render(
        RecommendationPageSerializer(RecommendationPage("movies", "model", version, "control", 10, 0, items)).data
    )
    slots = [PageSlot(user_id=BENCH_USER_BASE + n, content_type="movies", limit=10, offset=0, model_version=version,
                      variant="control") for n in range(users)]  # fmt: skip
    client = redis.Redis.from_url(redis_url)
    before = int(client.info("memory")["used_memory"])

    async def fill() -> None:
        for slot in slots:
            await slot.store(body, [])

    asyncio.run(fill())
    after = int(client.info("memory")["used_memory"])
    for chunk in range(0, users, 1000):
        part = slots[chunk : chunk + 1000]
        keys = [slot.key for slot in part] + [user_generation_key(slot.user_id) for slot in part]
        client.delete(*[KEY_PREFIX + key for key in keys])
    client.close()
    return {"pages": users, "body_bytes": len(body), "redis_bytes_per_page": (after - before) / users}


def fit_line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares ``y = a + b x``."""
    b, a = np.polyfit(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1)
    return float(a), float(b)


def fit_power(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares in log space: ``y = c * x ** p`` (the alternative model, printed beside the line)."""
    p, log_c = np.polyfit(np.log(np.asarray(xs, dtype=float)), np.log(np.asarray(ys, dtype=float)), 1)
    return float(np.exp(log_c)), float(p)


def check(model: str, xs: list[float], ys: list[float]) -> tuple[str, dict[str, Any]]:
    """One time model fitted to all points (each point's error) and to all but the largest (its prediction)."""
    fit = fit_line if model == "linear" else fit_power

    def predict(params: tuple[float, float], x: float) -> float:
        return params[0] + params[1] * x if model == "linear" else params[0] * x ** params[1]

    params = fit(xs, ys)
    errors = [(predict(params, x) - y) / y for x, y in zip(xs, ys, strict=True)]
    if model == "linear":
        text = f"a = {params[0]:.2f}s, b = {params[1] * 1e6:.2f}s per million positives"
        out: dict[str, Any] = {"a_s": round(params[0], 3), "b_s_per_million": round(params[1] * 1e6, 3)}
    else:
        text = f"c = {params[0]:.3g}, p = {params[1]:.3f}"
        out = {"c": params[0], "p": round(params[1], 4)}
    out["errors"] = [round(e, 3) for e in errors]
    text += "; errors " + ", ".join(f"{e:+.1%}" for e in errors)
    if len(xs) >= 3:
        predicted = predict(fit(xs[:-1], ys[:-1]), xs[-1])
        error = (predicted - ys[-1]) / ys[-1]
        out["holdout"] = {"predicted_s": round(predicted, 2), "measured_s": round(ys[-1], 2), "error": round(error, 3)}
        text += f"; from the smaller points the largest is {predicted:.1f}s vs {ys[-1]:.1f}s measured ({error:+.1%})"
    return text, out


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.25e6, 1e6, 4e6])
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many refits per point")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"), help="for the page cache's memory")
    parser.add_argument("--pages", type=int, default=20_000, help="pages cached for the Redis measurement")
    return parser.parse_args()


def warm_up(spark: SparkOptions, config: EngineConfig) -> None:
    started = time.perf_counter()
    spark_session(spark)
    print(f"Spark session on {spark.master}: {time.perf_counter() - started:.1f}s (once per process)")
    # A just-started JVM compiles its hot paths on the first jobs: the first fit of 20k interactions
    # took 22.6 s, the next ones of 40k and 80k 4.9 s. Not timed, as bench/extract.py warms Neo4j up.
    started = time.perf_counter()
    refit(synthetic(20_000, seed=1), config, "spark_als", spark)
    print(f"Spark warm-up fit: {time.perf_counter() - started:.1f}s (not counted)")


def measure(size: int, config: EngineConfig, spark: SparkOptions | None, repeats: int, workdir: Path) -> dict[str, Any]:
    """One size: each trainer's refit (best of ``repeats``), the served model's bytes, the training's peak heap."""
    arrays = synthetic(size)
    point: dict[str, Any] = {"interactions": size}
    for model in ("als", *(() if spark is None else ("spark_als",))):
        # Best of the repeats: the machine is shared, and a slower run measures the others' load.
        result = min((refit(arrays, config, model, spark) for _ in range(repeats)), key=lambda r: r["seconds"])
        artifact = result["artifact"]
        trainer = "local" if model == "als" else "spark"
        point[trainer] = {k: round(v, 2) for k, v in result.items() if k != "artifact"}
        if model == "als":
            folder = save_artifact(artifact, workdir / "models", "movies", keep=1)
            pairs = int(artifact.seen.indices.shape[0])
            point |= {
                "users": artifact.n_users, "items": artifact.n_items, "pairs": pairs,
                "positives": int(artifact.metadata["counts"]["positives"]),
                "model_bytes": sum(p.stat().st_size for p in folder.glob("*.npy")),
                "formula_bytes": model_bytes(artifact.n_users, artifact.n_items, pairs, FACTORS),
            }  # fmt: skip
        print(f"{size:>9,} interactions  {trainer:5}  refit {result['seconds']:6.1f}s "
              f"(matrix {result['matrix_s']:.1f}s, fit {result['fit_s']:.1f}s), {result['cpu_s']:.1f} CPU-s",
              flush=True)  # fmt: skip
    point["training_peak_bytes"] = training_peak_bytes(size, config)
    print(f"{'':>9}  training peak heap {point['training_peak_bytes'] / 2**20:.0f} MiB "
          f"({point['training_peak_bytes'] / size:.0f} bytes per interaction)", flush=True)  # fmt: skip
    print(f"{'':>9}  model {point['model_bytes'] / 2**20:.1f} MiB on disk, formula "
          f"{point['formula_bytes'] / 2**20:.1f} MiB ({point['users']:,} users x {point['items']:,} items, "
          f"{point['positives']:,} positives)", flush=True)  # fmt: skip
    return point


def time_models(points: list[dict[str, Any]], trainers: tuple[str, ...]) -> dict[str, Any]:
    """Both time models for each trainer, on wall seconds and on CPU seconds."""
    fits: dict[str, Any] = {}
    print("linear: seconds = a + b * positives; power: seconds = c * positives ** p")
    for trainer in trainers:
        for measure in ("seconds", "cpu_s"):
            xs = [float(p["positives"]) for p in points]
            ys = [float(p[trainer][measure]) for p in points]
            name = trainer if measure == "seconds" else f"{trainer} CPU"
            fits[name] = {}
            for model in ("linear", "power"):
                text, fits[name][model] = check(model, xs, ys)
                print(f"  {name:9} {model:6}: {text}")
    return fits


def main() -> None:
    args = arguments()
    config = EngineConfig.from_overrides({"als_iterations": args.iterations, "num_threads": 2})
    workdir = Path(tempfile.mkdtemp(prefix="musicbud-scale-"))
    spark = None if args.no_spark else SparkOptions(master=args.spark_master, staging_dir=workdir / "spark")
    if spark is not None:
        warm_up(spark, config)
    points = [measure(size, config, spark, args.repeats, workdir) for size in sorted(int(s) for s in args.sizes)]
    print(f"\nTime models of a refit ({FACTORS} factors, {args.iterations} iterations):")
    fits = time_models(points, ("local", *(() if spark is None else ("spark",))))
    memory_errors = [(p["formula_bytes"] - p["model_bytes"]) / p["model_bytes"] for p in points]
    print("Memory formula vs files: " + ", ".join(f"{e:+.2%}" for e in memory_errors))
    cache = page_cache_bytes(args.redis_url, args.pages) if args.redis_url else None
    if cache is not None:
        print(f"Page cache: {cache['redis_bytes_per_page']:.0f} bytes of Redis memory per cached page "
              f"({cache['pages']:,} first pages of 10 items, body {cache['body_bytes']} bytes)")  # fmt: skip
    else:
        print("Page cache: not measured (no --redis-url / REDIS_URL)")
    print(json.dumps({"iterations": args.iterations, "factors": FACTORS, "points": points, "time_model": fits,
                      "memory_formula_errors": [round(e, 4) for e in memory_errors], "page_cache": cache}))  # fmt: skip


if __name__ == "__main__":
    main()
