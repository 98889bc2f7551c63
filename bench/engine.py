"""Engine benchmarks on synthetic data: serving latency, batch throughput, training overhead, memory.

Run: ``.venv/bin/python bench/engine.py`` (standalone; writes temporary models under $TMPDIR).
``--costs`` measures the rates the training budget estimates with (engine/budget.py) instead, and
``--budget`` trains data of the hidden evaluation sets' sizes to show what ``training_budget_s`` buys.

Targets: per-user top-10 <= 1.5x the bare numpy floor (matmul + argpartition) at 200k users x 100k
items x 64 dims; batch top-10 >= 5,000 users/s at 20k items; training 1M interactions, selection of
the model included, <= 4x a bare LightFM fit with the same settings; three loaded models in a fresh
process <= 300 MB resident. Also reported: an item-item model at 20k items x 100 neighbours.
Prints readable lines, then one JSON object as the last line.

BLAS runs single-threaded here (unless OPENBLAS_NUM_THREADS is set): that is how the server should
run too, one BLAS thread per worker. A multi-threaded matrix-vector product for one request is no
faster, and on a busy machine it was 4x slower (11 ms vs 2.7 ms at 100k items, measured here).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy is imported; see the docstring

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommendations.domain import InteractionArrays, InteractionKind
from recommendations.engine import ease
from recommendations.engine.artifact import ModelArtifact, ModelStore, UserItems, new_version, save_artifact
from recommendations.engine.candidates import fit_als, fit_lightfm
from recommendations.engine.config import EngineConfig
from recommendations.engine.matrix import build_interaction_matrix
from recommendations.engine.serving import Recommender
from recommendations.engine.train import load_lightfm, train_model

REPO = Path(__file__).resolve().parents[1]
DIM = 64
SEEN_PER_USER = 20


def synthetic_artifact(n_users: int, n_items: int, seed: int = 0) -> ModelArtifact:
    """Random factors (scores do not matter for speed) and SEEN_PER_USER seen items per user."""
    rng = np.random.default_rng(seed)
    items = (rng.standard_normal((n_items, DIM), dtype=np.float32) / np.sqrt(DIM)).astype(np.float32)
    seen = np.sort(rng.integers(0, n_items, size=(n_users, SEEN_PER_USER), dtype=np.int32), axis=1)
    return ModelArtifact(
        user_ids=np.arange(n_users, dtype=np.int64) * 7 + 1000,  # sparse external ids, as in production
        item_ids=np.array([f"tt{n:08d}" for n in range(n_items)], dtype=np.str_),
        user_factors=rng.standard_normal((n_users, DIM), dtype=np.float32),
        user_biases=np.zeros(n_users, dtype=np.float32),
        item_factors=items,
        item_biases=rng.standard_normal(n_items, dtype=np.float32) * 0.1,
        item_norms=np.linalg.norm(items, axis=1).astype(np.float32),
        popularity=rng.random(n_items, dtype=np.float32),
        trending=rng.random(n_items, dtype=np.float32),
        seen=UserItems(
            indptr=np.arange(0, (n_users + 1) * SEEN_PER_USER, SEEN_PER_USER, dtype=np.int64),
            indices=seen.ravel(),
            weights=np.ones(n_users * SEEN_PER_USER, dtype=np.float32),
        ),
        feature_names=np.empty(0, dtype=np.str_),
        metadata={
            "version": new_version(),
            "config": EngineConfig().to_dict(),
            "rating_scale": 1.0,
            "user_vector_length": 1.0,
            "metrics": {},
        },
    )


def synthetic_item_item(n_users: int, n_items: int, neighbours: int = 100, seed: int = 4) -> ModelArtifact:
    """An item-item (EASE-kind) artifact: ``neighbours`` random weights per item, SEEN_PER_USER per user."""
    base = synthetic_artifact(n_users, n_items, seed=seed)
    rng = np.random.default_rng(seed)
    columns = np.sort(rng.integers(0, n_items, size=(n_items, neighbours), dtype=np.int32), axis=1)
    return ModelArtifact(
        user_ids=base.user_ids, item_ids=base.item_ids,
        user_factors=np.zeros((n_users, 0), dtype=np.float32), user_biases=np.zeros(n_users, dtype=np.float32),
        item_factors=np.zeros((n_items, 0), dtype=np.float32), item_biases=np.zeros(n_items, dtype=np.float32),
        item_norms=np.zeros(n_items, dtype=np.float32), popularity=base.popularity, trending=base.trending,
        seen=UserItems(base.seen.indptr, base.seen.indices, base.seen.weights,
                       np.zeros(base.seen.indices.shape[0], dtype=np.int64)),
        feature_names=base.feature_names,
        neighbours=UserItems(
            indptr=np.arange(0, (n_items + 1) * neighbours, neighbours, dtype=np.int64),
            indices=columns.ravel(),
            weights=(rng.standard_normal(n_items * neighbours) * 0.1).astype(np.float32),
        ),
        metadata={**base.metadata, "kind": "item_item", "model": "ease", "user_vector_length": 0.0},
    )  # fmt: skip


def bench_item_item(model_dir: Path, n_users: int = 50_000, n_items: int = 20_000) -> tuple[float, float]:
    """(per-user top-10 ms, batch top-10 users/s) of a saved, memory-mapped item-item model."""
    save_artifact(synthetic_item_item(n_users, n_items), model_dir, "item-item")
    recommender = Recommender(ModelStore(model_dir).current("item-item"))
    users = np.random.default_rng(5).choice(recommender.artifact.user_ids, size=2000)
    per_user_ms = median_ms(lambda user_id: recommender.recommend(user_id, k=10), users)
    recommender.recommend_batch(recommender.artifact.user_ids[:2000], k=10)
    started = time.perf_counter()
    recommender.recommend_batch(recommender.artifact.user_ids, k=10)
    return per_user_ms, n_users / (time.perf_counter() - started)


def median_ms(fn, users: np.ndarray) -> float:
    for user in users[:50]:  # warm caches and the memory-mapped pages
        fn(int(user))
    timings = []
    for user in users:
        started = time.perf_counter()
        fn(int(user))
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def bench_topk(artifact: ModelArtifact, n_users: int = 2000) -> tuple[float, float]:
    recommender = Recommender(artifact)
    users = np.random.default_rng(1).choice(artifact.user_ids, size=n_users)
    factors, items, biases = artifact.user_factors, artifact.item_factors, artifact.item_biases

    def ours(user_id: int) -> None:
        recommender.recommend(user_id, k=10)

    def floor(user_id: int) -> None:
        row = artifact.user_index(user_id)
        scores = items @ factors[row] + biases
        np.argpartition(-scores, 10)[:10]

    # Interleave the two measurements so machine noise hits both alike.
    ours_ms = median_ms(ours, users)
    floor_ms = median_ms(floor, users)
    ours_ms = min(ours_ms, median_ms(ours, users))
    floor_ms = min(floor_ms, median_ms(floor, users))
    return ours_ms, floor_ms


def bench_batch(n_users: int = 20_000, n_items: int = 20_000) -> tuple[float, float]:
    """Batch top-10 users/s: the plain path, and the exact one the export uses (re-scored in float64)."""
    artifact = synthetic_artifact(n_users, n_items, seed=2)
    recommender = Recommender(artifact)
    recommender.recommend_batch(artifact.user_ids[:2000], k=10)
    rates = []
    for exact in (False, True):
        started = time.perf_counter()
        recommender.recommend_batch(artifact.user_ids, k=10, exact=exact)
        rates.append(n_users / (time.perf_counter() - started))
    return rates[0], rates[1]


def synthetic_interactions(n: int, n_users: int, n_items: int, seed: int = 3) -> InteractionArrays:
    """Power-law item popularity, a mix of kinds: roughly what a real catalog produces."""
    rng = np.random.default_rng(seed)
    items = np.minimum(rng.zipf(1.3, size=n) - 1, n_items - 1)
    permuted = rng.permutation(n_items)[items]
    kinds = rng.choice(
        [InteractionKind.LIKED, InteractionKind.WATCHED, InteractionKind.WATCHLIST, InteractionKind.RATED], size=n
    ).astype(np.int8)
    return InteractionArrays(
        user_ids=rng.integers(0, n_users, size=n, dtype=np.int64),
        item_ids=np.char.add("tt", permuted.astype(np.str_)),
        kinds=kinds,
        values=np.where(kinds == InteractionKind.RATED, rng.integers(1, 11, size=n), np.nan).astype(np.float32),
        timestamps=1_700_000_000 + rng.integers(0, 365 * 86_400, size=n, dtype=np.int64),
    )


def tally(selection: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Grid points per model that ran and that the budget (or a limit) skipped, from Selection.summary()."""
    ran: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for trial in selection["trials"]:
        counts = skipped if "skipped" in trial else ran
        counts[trial["model"]] = counts.get(trial["model"], 0) + 1
    return ran, skipped


def bench_train(n: int, config: EngineConfig, repeats: int) -> dict[str, Any]:
    """Ours end to end (selection and refit) and a bare LightFM fit, alternated ``repeats`` times."""
    arrays = synthetic_interactions(n, n_users=50_000, n_items=20_000)
    lightfm = load_lightfm()
    matrix = build_interaction_matrix(arrays, config).positives()

    def bare() -> float:
        model = lightfm.LightFM(
            no_components=config.no_components, loss=config.loss, learning_rate=config.learning_rate,
            item_alpha=config.item_alpha, user_alpha=config.user_alpha, max_sampled=config.max_sampled,
            random_state=config.random_seed,
        )  # fmt: skip
        started = time.perf_counter()
        model.fit(matrix, sample_weight=matrix, epochs=config.epochs, num_threads=config.num_threads)
        return time.perf_counter() - started

    def ours() -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        artifact = train_model(arrays, [], config)
        return time.perf_counter() - started, artifact.metadata["selection"]

    # Alternated: LightFM fit times vary by +-30% run to run on a busy machine (Hogwild threads).
    pairs = []
    for _ in range(repeats):
        bare_s = bare()
        ours_s, selection = ours()
        pairs.append((ours_s, bare_s, selection))
        print(f"  training run: ours {ours_s:.1f}s, bare LightFM {bare_s:.1f}s, load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    ours_s, _, selection = min(pairs, key=lambda pair: pair[0])
    ran, skipped = tally(selection)
    return {
        "ours_s": ours_s, "bare_s": min(pair[1] for pair in pairs), "winner": selection["candidate"],
        "refit_s": selection["budget"]["refit_s"], "ran": ran, "skipped": skipped,
        "runs": [(round(o, 1), round(b, 1)) for o, b, _ in pairs],
    }  # fmt: skip


def timings(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def best_seconds(fn: Callable[[], object], repeats: int) -> float:
    return min(timings(fn, repeats))


def warm_matrix(n_users: int, n_items: int, per_user: int, seed: int = 6) -> sp.csr_matrix:
    """A binary users x items matrix in which every item has a positive (EASE inverts all of them)."""
    rng = np.random.default_rng(seed)
    n = n_users * per_user
    rows = np.r_[rng.integers(0, n_users, n), rng.integers(0, n_users, n_items)]
    cols = np.r_[rng.permutation(n_items)[np.minimum(rng.zipf(1.2, n) - 1, n_items - 1)], np.arange(n_items)]
    matrix = sp.csr_matrix((np.ones(rows.shape[0], dtype=np.float32), (rows, cols)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def bench_costs(repeats: int) -> dict[str, float]:
    """The rates engine/budget.py estimates with, measured here (best of ``repeats``)."""
    config = EngineConfig()
    sizes, seconds = (4000, 8000, 12000), []
    for n_items in sizes:
        x = warm_matrix(5000, n_items, 100)

        def fit_ease(x: sp.csr_matrix = x, n_items: int = n_items) -> None:
            g = ease.gram(x, max_items=config.ease_max_items)
            dense = ease.solve(g, 10.0 * g.mean_diagonal)
            ease.sparsify(dense, g.warm, n_items, neighbours=config.ease_neighbours, minimum=config.ease_min_neighbours)

        seconds.append(best_seconds(fit_ease, repeats))
        print(f"EASE fit of {n_items:,} warm items: {seconds[-1]:.2f}s", flush=True)
    for n_items in (1600, 5200, 8000):  # one or two BLAS threads for the inverse (ease.INVERSE_THREADS)
        g = ease.gram(warm_matrix(5000, n_items, 100), max_items=config.ease_max_items)
        one: list[float] = []
        two: list[float] = []
        for _ in range(repeats):  # interleaved, so a burst of other jobs hits both
            one += timings(partial(ease.solve, g, 10.0 * g.mean_diagonal, threads=1), 1)
            two += timings(partial(ease.solve, g, 10.0 * g.mean_diagonal, threads=2), 1)
        print(f"EASE inverse of {n_items:,} items: 1 BLAS thread {min(one):.2f}-{max(one):.2f}s, 2 threads "
              f"{min(two):.2f}-{max(two):.2f}s (training uses {ease.INVERSE_THREADS}), load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    # seconds = a n^3 + b n^2, least squares over the sizes
    design = np.array([[float(n) ** 3, float(n) ** 2] for n in sizes])
    (cubed, squared), *_ = np.linalg.lstsq(design, np.array(seconds), rcond=None)
    positives = build_interaction_matrix(synthetic_interactions(1_000_000, 50_000, 20_000), config).positives()
    csr = sp.csr_matrix(positives)
    factors = 32
    als_s = best_seconds(lambda: fit_als(csr, config, factors=factors, regularization=1.0, alpha=5.0), repeats)
    epochs = 5
    lightfm_s = best_seconds(lambda: list(fit_lightfm(positives, config, checkpoints=(epochs,))), repeats)
    print(f"ALS {factors} factors x {config.als_iterations} iterations over {positives.nnz:,} positives: "
          f"{als_s:.2f}s; LightFM {epochs} epochs: {lightfm_s:.2f}s", flush=True)  # fmt: skip
    return {
        "ease_seconds_per_item_cubed": float(cubed),
        "ease_seconds_per_item_squared": float(squared),
        "als_seconds_per_positive_iteration_factor": als_s / (positives.nnz * config.als_iterations * factors),
        "lightfm_seconds_per_positive_epoch": lightfm_s / (positives.nnz * epochs),
    }


def synthetic_ratings(
    n: int, n_users: int, n_items: int, *, scale: int, timestamps: bool, seed: int = 7
) -> InteractionArrays:
    """Ratings of the shape of a real catalog: skewed item popularity, yet nearly every item rated."""
    rng = np.random.default_rng(seed)
    skewed = np.minimum(rng.zipf(1.2, size=n) - 1, n_items - 1)
    items = np.where(rng.random(n) < 0.7, rng.permutation(n_items)[skewed], rng.integers(0, n_items, size=n))
    return InteractionArrays(
        user_ids=rng.integers(0, n_users, size=n, dtype=np.int64),
        item_ids=np.char.add("i", items.astype(np.str_)),
        kinds=np.full(n, InteractionKind.RATED, dtype=np.int8),
        values=rng.integers(1, scale + 1, size=n).astype(np.float32),
        timestamps=(
            1_000_000_000 + rng.integers(0, 3 * 365 * 86_400, size=n, dtype=np.int64)
            if timestamps
            else np.zeros(n, dtype=np.int64)
        ),
    )


# name -> the data: the hidden evaluation sets' training parts, a larger catalog, the training bench's.
BUDGET_SHAPES: dict[str, Callable[[], InteractionArrays]] = {
    "ML-1M size (6,040 users, 3,700 items, 900k ratings, timestamps)": (
        lambda: synthetic_ratings(900_000, 6_040, 3_700, scale=5, timestamps=True)
    ),
    "MyAnimeList 5k users, 8,000 items (450k ratings, no timestamps)": (
        lambda: synthetic_ratings(450_000, 5_000, 8_000, scale=10, timestamps=False)
    ),
    "MyAnimeList 5k users, 10,000 items (450k ratings, no timestamps)": (
        lambda: synthetic_ratings(450_000, 5_000, 10_000, scale=10, timestamps=False)
    ),
    "12,000 items (20k users, 600k ratings, no timestamps)": (
        lambda: synthetic_ratings(600_000, 20_000, 12_000, scale=10, timestamps=False)
    ),
    "training bench (50k users, 20k items, 1M interactions)": (
        lambda: synthetic_interactions(1_000_000, n_users=50_000, n_items=20_000)
    ),
}


def bench_budget(config: EngineConfig) -> list[dict[str, object]]:
    """What ``training_budget_s`` buys: each shape trained with the shipped selection, what ran, what not."""
    rows = []
    for name, make in BUDGET_SHAPES.items():
        arrays = make()
        started = time.perf_counter()
        artifact = train_model(arrays, [], config)
        seconds = time.perf_counter() - started
        selection = artifact.metadata["selection"]
        ran, skipped = tally(selection)
        counts = artifact.metadata["counts"]
        row = {
            "data": name, "items": counts["items"], "positives": counts["positives"],
            "ran": ran, "skipped": skipped, "winner": selection["candidate"],
            "seconds": round(seconds, 1), "refit_s": selection["budget"]["refit_s"],
        }  # fmt: skip
        print(f"{name}: {seconds:.1f}s (refit {row['refit_s']:.1f}s), ran {ran}, skipped {skipped}, "
              f"serving {row['winner']}", flush=True)  # fmt: skip
        for trial in selection["trials"]:
            if "skipped" in trial:
                print(f"    {trial['candidate']}: {trial['skipped']}", flush=True)
        rows.append(row)
    return rows


RSS_PROBE = """
import sys
sys.path.insert(0, {repo!r})
from recommendations.engine.artifact import ModelStore
from recommendations.engine.serving import Recommender

def rss_kb():
    lines = open("/proc/self/status").read().splitlines()
    wanted = [line for line in lines if line.startswith(("VmRSS", "RssAnon", "RssFile"))]
    return {{line.split(":")[0]: int(line.split()[1]) for line in wanted}}

store = ModelStore({model_dir!r})
recommenders = [Recommender(store.current(t)) for t in ("movies", "manga", "anime")]
for recommender in recommenders:  # one request each: item factors are read in full by any scoring
    recommender.recommend(int(recommender.artifact.user_ids[0]), k=10)
loaded = rss_kb()
for recommender in recommenders:  # then traffic spread over all users
    artifact = recommender.artifact
    for user_id in artifact.user_ids[:: max(artifact.n_users // 200, 1)]:
        recommender.recommend(int(user_id), k=10)
    recommender.similar_items(str(artifact.item_ids[0]), k=10)
print(loaded, rss_kb())
"""


def bench_rss(model_dir: Path) -> tuple[dict[str, int], dict[str, int]]:
    """RSS of a fresh process: after loading + one request per model, and after 200 requests per model."""
    probe = RSS_PROBE.format(repo=str(REPO), model_dir=str(model_dir))
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    loaded, warm = out.stdout.strip().splitlines()[-1].split("} {")
    return json.loads((loaded + "}").replace("'", '"')), json.loads(("{" + warm).replace("'", '"'))


def mb(kb: int) -> float:
    return kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-interactions", type=int, default=1_000_000)
    parser.add_argument("--train-repeats", type=int, default=1, help="alternating fits of each, best taken")
    parser.add_argument("--costs", action="store_true", help="only measure the training budget's rates")
    parser.add_argument("--budget", action="store_true", help="only train data of the evaluation sets' sizes")
    parser.add_argument("--batch", action="store_true", help="only the batch throughput (plain and exact)")
    args = parser.parse_args()
    config = EngineConfig()
    print(
        f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, OPENBLAS_NUM_THREADS="
        f"{os.environ['OPENBLAS_NUM_THREADS']}, epochs={config.epochs}, components={config.no_components}, "
        f"training_budget_s={config.training_budget_s:g}",
        flush=True,
    )
    if args.costs:
        print(json.dumps(bench_costs(args.train_repeats)))
        return
    if args.batch:
        plain, exact = bench_batch()
        print(f"batch top-10 at 20k items: {plain:,.0f} users/s, exact (the export's) {exact:,.0f} users/s", flush=True)
        print(json.dumps({"batch_users_per_s": round(plain), "batch_exact_users_per_s": round(exact)}))
        return
    if args.budget:
        rows = bench_budget(config)
        print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
        print(json.dumps({"training_budget_s": config.training_budget_s, "shapes": rows}))
        return

    with tempfile.TemporaryDirectory(prefix="musicbud-bench-") as tmp:
        model_dir = Path(tmp)
        started = time.perf_counter()
        big = synthetic_artifact(200_000, 100_000)
        for content_type in ("movies", "manga", "anime"):
            save_artifact(big, model_dir, content_type)
        del big
        print(f"saved 3 models of 200k users x 100k items x {DIM} in {time.perf_counter() - started:.1f}s", flush=True)
        loaded = ModelStore(model_dir).current("movies")

        ours_ms, floor_ms = bench_topk(loaded)
        print(f"top-10 per user: ours {ours_ms:.3f} ms, numpy floor {floor_ms:.3f} ms "
              f"({ours_ms / floor_ms:.2f}x, target <= 1.5x)", flush=True)  # fmt: skip
        loaded_rss, warm_rss = bench_rss(model_dir)
        rss_mb = mb(loaded_rss["VmRSS"])
        print(
            f"resident memory, fresh process, 3 models loaded + 1 request each: {rss_mb:.0f} MB "
            f"(anonymous {mb(loaded_rss['RssAnon']):.0f}, file-backed {mb(loaded_rss['RssFile']):.0f}; "
            "target <= 300)",
            flush=True,
        )
        print(
            f"  after 200 requests per model over all users: {mb(warm_rss['VmRSS']):.0f} MB "
            f"(anonymous {mb(warm_rss['RssAnon']):.0f}, file-backed {mb(warm_rss['RssFile']):.0f}: shared page "
            "cache the kernel can reclaim)",
            flush=True,
        )

    users_per_s, exact_users_per_s = bench_batch()
    print(f"batch top-10 at 20k items: {users_per_s:,.0f} users/s (target >= 5,000); exact (the export's) "
          f"{exact_users_per_s:,.0f} users/s", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="musicbud-bench-") as tmp:
        item_item_ms, item_item_users_per_s = bench_item_item(Path(tmp))
    print(f"item-item (20k items x 100 neighbours, {SEEN_PER_USER} history items): top-10 per user "
          f"{item_item_ms:.3f} ms, batch {item_item_users_per_s:,.0f} users/s", flush=True)  # fmt: skip

    train = bench_train(args.train_interactions, config, args.train_repeats)
    print(f"training {args.train_interactions:,} interactions: ours {train['ours_s']:.1f}s end to end, bare LightFM "
          f"fit {train['bare_s']:.1f}s ({train['ours_s'] / train['bare_s']:.2f}x, target <= 4x with selection on); "
          f"ran {train['ran']}, skipped {train['skipped']}, served {train['winner']} (refit "
          f"{train['refit_s']:.1f}s)", flush=True)  # fmt: skip

    print(json.dumps({
        "topk_ms_ours": round(ours_ms, 4), "topk_ms_floor": round(floor_ms, 4),
        "batch_users_per_s": round(users_per_s), "batch_exact_users_per_s": round(exact_users_per_s),
        "train_s_ours": round(train["ours_s"], 2),
        "train_s_bare": round(train["bare_s"], 2), "train_runs_ours_bare": train["runs"],
        "train_served": train["winner"], "rss_mb_three_models": round(rss_mb, 1),
        "rss_mb_three_models_warm": round(mb(warm_rss["VmRSS"]), 1),
        "item_item_topk_ms": round(item_item_ms, 4), "item_item_batch_users_per_s": round(item_item_users_per_s),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
