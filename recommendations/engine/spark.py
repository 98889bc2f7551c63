"""Implicit ALS on Apache Spark (PySpark's MLlib), for data past what one machine fits in its window.

The Spark candidate (``spark_als``) is fitted like every other: on the InteractionMatrix of the
validation split's older part during selection, and on all data for the refit. Only the fit runs on
Spark; what comes back is the same ``FittedFactors`` the local ALS returns, so the artifact (factors,
biases, id maps, popularity, seen lists) is assembled by the same code and published by the same
``save_artifact``: serving, hot reload and every API feature cannot tell the two apart.

What Spark reads: the weighted positive pairs of the matrix (``user`` row, ``item`` column,
``weight``), written as Parquet with pyarrow into ``SparkOptions.staging_dir`` and read by Spark.
The weights are ``event_weights`` of engine/matrix.py, deduplicated per pair with dislikes excluded,
so Spark fits exactly the matrix the local ALS fits. On a cluster the staging folder must be a path
every executor can read (a shared volume mounted at the same path, or a ``file:``-less URI Spark and
pyarrow both understand); ``local[N]`` masters need nothing more.

Confidence: MLlib's implicit ALS uses ``c = 1 + alpha * r`` with ``r`` our pair weight, as implicit's
ALS does. Its ``regParam`` is scaled by each user's (item's) number of positives (ALS-WR), implicit's
is not: the two grids differ (``spark_als_regularizations`` in config.py).

One SparkSession per process (a JVM; 12 s to start here, ``bench/scale.py``), created on first use and
kept; a second set of options in the same process is refused rather than silently ignored.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import EngineError, EngineUnavailable

logger = logging.getLogger(__name__)


class SparkFailed(EngineError):
    """A Spark job failed (an executor lost, out of memory, the cluster unreachable mid-job)."""

    code = "spark_failed"
    status_code = 503


@dataclass(frozen=True)
class SparkOptions:
    """Where and how to run Spark: the deployment's settings (SPARK_* in musicbud/settings.py)."""

    master: str  # "local[2]", "spark://host:7077", "yarn", "k8s://..."
    staging_dir: Path  # Parquet inputs; shared with the executors on a cluster
    # The driver JVM. In local mode it is also the executor: 1g fits 4M interactions (bench/scale.py).
    driver_memory: str = "1g"
    executor_memory: str = "1g"
    conf: Mapping[str, str] = field(default_factory=dict)  # any other spark.* setting
    app_name: str = "musicbud-training"

    def spark_conf(self) -> dict[str, str]:
        """The settings the session is built with; ``conf`` wins over these defaults."""
        defaults = {
            "spark.driver.memory": self.driver_memory,
            "spark.executor.memory": self.executor_memory,
            # No web UI or console progress bars from a training run inside a web or cron process.
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": str(self.parallelism()),
            "spark.default.parallelism": str(self.parallelism()),
            # ALS's checkpoints (fit_spark_als) are deleted once their RDDs are gone, not kept per fit.
            "spark.cleaner.referenceTracking.cleanCheckpoints": "true",
        }
        if self.master.startswith("local"):
            # A local master listens on loopback only.
            defaults |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
        return {**defaults, **dict(self.conf)}

    def parallelism(self) -> int:
        """Threads of a ``local[N]`` master (``local[*]``: the CPUs), else Spark's default of 8 blocks."""
        if self.master == "local":
            return 1
        if self.master.startswith("local[") and self.master.endswith("]"):
            inner = self.master[len("local[") : -1].split(",")[0]
            return int(inner) if inner.isdigit() else 2
        return 8


# ALS iterations between checkpoints of its factors (MLlib's default, made explicit: spark_session says why).
CHECKPOINT_EVERY = 10

_session: Any = None
_session_options: SparkOptions | None = None
_session_lock = threading.Lock()


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise EngineUnavailable(f"PySpark cannot be imported ({name}): {exc}") from exc


def spark_session(options: SparkOptions) -> Any:
    """The process's SparkSession, started on first use; EngineUnavailable if Spark or Java is missing."""
    global _session, _session_options
    with _session_lock:
        if _session is not None:
            if _session_options is not None and _session_options.master != options.master:
                raise EngineUnavailable(
                    f"this process already runs Spark on {_session_options.master}, not {options.master}"
                )
            return _session
        sql = _import("pyspark.sql")
        builder = sql.SparkSession.builder.master(options.master).appName(options.app_name)
        for key, value in options.spark_conf().items():
            builder = builder.config(key, value)
        started = time.perf_counter()
        try:
            session = builder.getOrCreate()
        except Exception as exc:
            # PySpark raises its own runtime error (JAVA_GATEWAY_EXITED) when no Java runs, a
            # Py4J error when the master refuses us: the training must not run without Spark.
            raise EngineUnavailable(f"Spark could not start on {options.master}: {exc}") from exc
        session.sparkContext.setLogLevel("WARN")
        # Without a checkpoint folder ALS never cuts its RDD lineage: at the engine's 15 iterations the
        # task that deserialises it overflowed the JVM's stack on ML-100K (StackOverflowError, which
        # Spark treats as fatal: the JVM exited and took the session with it); with one, 15 and 30
        # iterations fit in 25 s (/tmp repro, local[2]). On a cluster it must be shared, as the staging folder.
        session.sparkContext.setCheckpointDir(str(options.staging_dir / "checkpoints"))
        # Before logging shuts down (atexit runs last-registered first): Py4J logs as it disconnects.
        atexit.register(stop_spark_session)
        logger.info("Spark session on %s started in %.1fs", options.master, time.perf_counter() - started)
        _session, _session_options = session, options
        return session


def _alive(session: Any) -> bool:
    """Whether the session's JVM still answers (one Py4J round trip)."""
    py4j = _import("py4j.protocol")
    try:
        session.sparkContext._jvm.java.lang.System.nanoTime()
    except (py4j.Py4JError, OSError):
        return False
    return True


def stop_spark_session() -> None:
    """Stop the process's session (the JVM goes with it); the next fit starts a new one."""
    global _session, _session_options
    with _session_lock:
        if _session is not None and _alive(_session):
            _session.stop()
        _session, _session_options = None, None


def _forget_if_dead(session: Any) -> None:
    """After a failed fit: a JVM that exited (a fatal error, out of memory) is dropped, not reused.

    Kept, every later fit of this long-lived process would fail on the dead gateway until a restart.
    """
    global _session, _session_options
    with _session_lock:
        if _session is session and not _alive(session):
            logger.warning("the Spark session's JVM is gone; the next fit starts a new one")
            _reset_pyspark(session)
            _session, _session_options = None, None


def _reset_pyspark(session: Any) -> None:
    """Make PySpark forget a dead JVM, so that the next ``getOrCreate`` launches a new one.

    PySpark keeps its gateway, context and session as class attributes and reuses them while they are
    set; its own ``stop`` needs the JVM to answer. These are pyspark 3.5's names (pinned, requirements.txt).
    """
    pyspark = _import("pyspark")
    sql = _import("pyspark.sql")
    context = session.sparkContext
    if context._accumulatorServer is not None:
        context._accumulatorServer.shutdown()
        context._accumulatorServer = None
    context._jsc = None
    with pyspark.SparkContext._lock:
        if pyspark.SparkContext._gateway is not None:
            pyspark.SparkContext._gateway.close()  # this side's sockets; the other side is gone
        pyspark.SparkContext._active_spark_context = None
        pyspark.SparkContext._gateway = None
        pyspark.SparkContext._jvm = None
    sql.SparkSession._instantiatedSession = None
    sql.SparkSession._activeSession = None
    sql.SQLContext._instantiatedContext = None


@dataclass(frozen=True)
class SparkFactors:
    user_factors: np.ndarray[Any, np.dtype[np.float32]]
    item_factors: np.ndarray[Any, np.dtype[np.float32]]
    fit_seconds: float


def _write_pairs(interactions: sp.coo_matrix, path: Path) -> None:
    pa = _import("pyarrow")
    parquet = _import("pyarrow.parquet")
    table = pa.table(
        {
            "user": np.asarray(interactions.row, dtype=np.int32),
            "item": np.asarray(interactions.col, dtype=np.int32),
            "weight": np.asarray(interactions.data, dtype=np.float32),
        }
    )
    parquet.write_table(table, str(path))


def _collect(frame: Any, rows: int, factors: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """MLlib's factor table (id, features) as a dense array; ids it has no row for stay zero."""
    out = np.zeros((rows, factors), dtype=np.float32)
    for row in frame.collect():
        out[int(row["id"])] = row["features"]
    return out


def fit_spark_als(
    interactions: sp.coo_matrix,
    options: SparkOptions,
    *,
    factors: int,
    regularization: float,
    alpha: float,
    iterations: int,
    seed: int,
) -> SparkFactors:
    """MLlib's implicit ALS on these positive pairs; factors in the matrix's row and column order.

    A user (or item) without a positive pair gets zeros, as in a fit that never saw it; fold-in and
    the genre centroid place such rows at serving and assembly time as for the local ALS.
    """
    session = spark_session(options)
    recommendation = _import("pyspark.ml.recommendation")
    n_users, n_items = interactions.shape
    options.staging_dir.mkdir(parents=True, exist_ok=True)
    path = options.staging_dir / f"pairs-{secrets.token_hex(6)}.parquet"
    started = time.perf_counter()
    try:
        _write_pairs(interactions, path)
        blocks = options.parallelism()
        als = recommendation.ALS(
            rank=factors, maxIter=iterations, regParam=regularization, alpha=alpha, implicitPrefs=True,
            userCol="user", itemCol="item", ratingCol="weight", seed=seed, nonnegative=False,
            # One block per core of a local master: ALS's default of 10 blocks shuffled 1.5x longer on
            # local[2] (1M pairs, 32 factors, 15 iterations: 143 s vs 96 s, /tmp smoke run, load 2.4-4.7).
            numUserBlocks=blocks, numItemBlocks=blocks, checkpointInterval=CHECKPOINT_EVERY,
        )  # fmt: skip
        model = als.fit(session.read.parquet(str(path)))
        user_factors = _collect(model.userFactors, n_users, factors)
        item_factors = _collect(model.itemFactors, n_items, factors)
    except EngineError:
        raise
    except Exception as exc:
        _forget_if_dead(session)
        # Py4J's error carries the JVM's stack trace: the reason lands on the TrainingLog.
        raise SparkFailed(f"Spark ALS failed on {options.master}: {str(exc)[:2000]}") from exc
    finally:
        # pyarrow writes one file; a Spark-written input would be a folder.
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        path.unlink(missing_ok=True)
    return SparkFactors(user_factors, item_factors, time.perf_counter() - started)
