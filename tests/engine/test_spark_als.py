"""Spark MLlib's ALS as the ``spark_als`` candidate: the same artifact as a local fit, typed errors without Spark.

The fits run on local[2] in this process's one Spark session (engine/spark.py), on the API tests'
small seeded data, so each takes a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from recommendations.engine import EngineConfig, load_artifact, save_artifact, train_model
from recommendations.engine.budget import SPARK_ALS_FIXED_S, Budget, Sizes
from recommendations.engine.errors import InvalidConfig
from recommendations.engine.selection import select_model
from recommendations.engine.serving import Recommender
from recommendations.engine.spark import CHECKPOINT_EVERY, SparkFailed, SparkOptions, fit_spark_als, spark_session
from tests.api.conftest import API_SPEC

REPO = Path(__file__).resolve().parents[2]
GRID = {"num_threads": 1, "als_factors": [8], "als_iterations": 5, "spark_als_regularizations": [0.1]}


@pytest.fixture
def spark(spark_master: str, tmp_path: Path) -> SparkOptions:
    return SparkOptions(master=spark_master, staging_dir=tmp_path / "spark")


def test_a_spark_model_is_the_artifact_a_local_als_makes_and_has_learned_its_users(
    spark: SparkOptions, tmp_path: Path
) -> None:
    content = generate_content(API_SPEC, ContentType.MOVIES)
    on_spark = EngineConfig.from_overrides({**GRID, "pinned_models": {"*": "spark_als"}})
    local = EngineConfig.from_overrides({**GRID, "als_regularizations": [1.0], "pinned_models": {"*": "als"}})
    spark_model = train_model(content.interactions, content.catalog, on_spark, spark=spark)
    local_model = train_model(content.interactions, content.catalog, local)

    assert spark_model.metadata["model"] == "spark_als"
    assert spark_model.kind == local_model.kind == "factors"
    for name, array in local_model.arrays().items():
        if name in ("user_factors", "item_factors", "item_norms"):
            assert spark_model.arrays()[name].shape == array.shape, name
        else:  # id maps, seen lists with their weights and times, popularity, trending, zero biases
            np.testing.assert_array_equal(spark_model.arrays()[name], array, err_msg=name)
    # Every user's own positives score above the items they never touched: rows and columns are aligned.
    scores = Recommender(spark_model).score_rows(np.arange(spark_model.n_users))
    seen = spark_model.seen.to_csr(spark_model.n_items).toarray()
    own = np.where(seen > 0, scores, np.nan)
    untouched = np.where(seen == 0, scores, np.nan)
    assert (np.nanmean(own, axis=1) > np.nanmean(untouched, axis=1)).mean() > 0.95
    # It is published, reloaded and served like any other model.
    folder = save_artifact(spark_model, tmp_path / "models", "movies")
    reloaded = Recommender(load_artifact(folder))
    user = int(spark_model.user_ids[0])
    assert reloaded.recommend(user, k=5).items
    assert reloaded.similar_items(str(spark_model.item_ids[0]), k=3)


def test_spark_als_joins_selection_with_its_validation_metrics_and_budget(spark: SparkOptions) -> None:
    content = generate_content(API_SPEC, ContentType.ANIME)
    config = EngineConfig.from_overrides({**GRID, "candidates": ["als", "spark_als"], "grid_extensions": 0})
    selection = select_model(content.interactions, content.catalog, config, spark=spark)
    spark_trials = [t for t in selection.trials if t.candidate.model == "spark_als"]
    assert len(spark_trials) == 1
    assert spark_trials[0].metrics is not None
    assert spark_trials[0].metrics.ndcg > 0
    assert selection.summary()["best_per_model"]["spark_als"]["ndcg@10"] == pytest.approx(
        spark_trials[0].metrics.ndcg, abs=1e-5
    )


def test_a_fit_far_past_the_checkpoint_interval_keeps_the_jvm_alive(spark: SparkOptions) -> None:
    # Without checkpoints 40 iterations overflowed the JVM's stack even on this much data, and the
    # JVM exited (a /tmp repro before CHECKPOINT_EVERY existed).
    pairs = sp.random(60, 80, density=0.1, random_state=0, format="coo", dtype=np.float32)
    iterations = 4 * CHECKPOINT_EVERY
    fitted = fit_spark_als(pairs, spark, factors=4, regularization=0.1, alpha=5.0, iterations=iterations, seed=0)
    assert np.abs(fitted.item_factors).sum() > 0
    assert spark_session(spark).range(3).count() == 3


def test_a_session_whose_jvm_died_is_replaced_by_the_next_fit(spark: SparkOptions) -> None:
    session = spark_session(spark)
    session.sparkContext._gateway.proc.kill()  # what a fatal JVM error does to the session
    session.sparkContext._gateway.proc.wait(timeout=30)
    pairs = sp.random(30, 40, density=0.2, random_state=1, format="coo", dtype=np.float32)
    with pytest.raises(SparkFailed, match="Spark ALS failed on local"):
        fit_spark_als(pairs, spark, factors=4, regularization=0.1, alpha=5.0, iterations=2, seed=0)
    fitted = fit_spark_als(pairs, spark, factors=4, regularization=0.1, alpha=5.0, iterations=2, seed=0)
    assert np.abs(fitted.user_factors).sum() > 0
    assert spark_session(spark) is not session


def test_without_spark_the_candidate_is_skipped_with_the_reason() -> None:
    content = generate_content(API_SPEC, ContentType.MANGA)
    config = EngineConfig.from_overrides({**GRID, "candidates": ["spark_als"]})
    selection = select_model(content.interactions, content.catalog, config, spark=None)
    (trial,) = [t for t in selection.trials if t.candidate.model == "spark_als"]
    assert trial.metrics is None
    assert trial.skipped is not None
    assert trial.skipped.startswith("EngineUnavailable: spark_als needs Spark")
    assert selection.winner.model == "popularity"


def test_a_machine_without_java_gets_a_typed_engine_error() -> None:
    code = (
        "from pathlib import Path; from recommendations.engine.spark import SparkOptions, spark_session\n"
        "try:\n"
        "    spark_session(SparkOptions(master='local[1]', staging_dir=Path('/tmp/no-java-spark')))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc.code)\n"
    )
    env = {**os.environ, "JAVA_HOME": "/nonexistent-java", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "EngineUnavailable engine_unavailable", result.stderr[-2000:]


def test_a_type_on_spark_selects_between_popularity_and_spark_als_and_refuses_a_local_pin() -> None:
    config = EngineConfig.from_overrides({"pinned_models": {"movies": "lightfm", "anime": "spark_als"}})
    assert config.on_spark("anime").candidates == ("spark_als",)
    assert config.on_spark("manga").candidates == ("spark_als",)
    with pytest.raises(InvalidConfig, match="movies is trained on Spark"):
        config.on_spark("movies")


def test_a_spark_fit_is_estimated_with_its_fixed_cost_paid_again_by_the_refit() -> None:
    sizes = Sizes(events=900, events_all=1000, positives=800, warm_items=100, warm_items_all=110, items=120)
    cost = Budget(60.0, sizes).spark_als(32, 15)
    # Tiny data: almost all of a Spark fit is its fixed part, on the older part and again on all data.
    assert SPARK_ALS_FIXED_S < cost.validation_s < SPARK_ALS_FIXED_S + 0.1
    assert SPARK_ALS_FIXED_S < cost.refit_s < SPARK_ALS_FIXED_S + 0.1
    big = Budget(60.0, Sizes(9_000_000, 10_000_000, 8_000_000, 1, 1, 1))
    large = big.spark_als(32, 15)
    assert large.refit_s - SPARK_ALS_FIXED_S == pytest.approx((large.validation_s - SPARK_ALS_FIXED_S) / 0.9)
