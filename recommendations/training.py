"""Training: the one function that trains a content type end to end, and the way to start it in the background.

``train_content_type`` is what the management command, cron, the admin action and the API all call:
extract from the data service -> skip if nothing changed -> select the model on a validation split
(every candidate fitted on the older part, scored on the newer; engine/selection.py) -> refit the
winner on all data -> save atomically -> record the run (every candidate's metrics) in a TrainingLog.
A type whose trainer is "spark" (settings.RECOMMENDATIONS_TRAINER) runs the same steps with Spark's ALS
as the candidate (engine/spark.py): the same split, metrics, artifact and publication.
The running TrainingLog row is also the lock: the database allows one running row per content type
(a partial unique constraint), so two processes, or two machines, can never train the same type at once.

Started from the API, the admin, ``train_recommendations --async`` or cron, a training is a task in the queue
(``start_training_run`` -> ``recommendations.tasks.train``), run by the worker (``manage.py run_worker``):
never in a web process. A running training beats a heartbeat on its row every TRAINING_HEARTBEAT_S; a run
without one for TRAINING_STALE_AFTER_S (its process was killed) is failed by ``reap_stalled_trainings``, which
every worker runs periodically and every new training runs before taking the lock.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.mail import mail_admins
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from musicbud import graph
from musicbud.errors import Conflict
from recommendations.data import get_interaction_store
from recommendations.domain import CatalogItem, ContentType, InteractionArrays
from recommendations.engine import EngineConfig, save_artifact, train_model
from recommendations.engine.selection import select_model
from recommendations.engine.spark import SparkOptions
from recommendations.engine.train import EpochCallback
from recommendations.forgetting import DATA_READ_AT
from recommendations.models import TrainingLog, TrainingStatus

logger = logging.getLogger(__name__)

HOLDOUT_K = 10
Progress = Callable[[str], None]


class TrainingLocked(Conflict):
    code = "training_in_progress"
    default_message = "A training of this content type is already running."


def trainer_for(content_type: ContentType) -> str:
    """Where this type trains: "local" or "spark" (settings.RECOMMENDATIONS_TRAINER)."""
    trainers: dict[str, str] = settings.RECOMMENDATIONS_TRAINER
    return trainers.get(content_type.value, trainers["*"])


def engine_config(content_type: ContentType | None = None) -> EngineConfig:
    """The engine defaults with the deployment's overrides (settings.RECOMMENDATIONS_ENGINE).

    For a type trained on Spark, selection is between popularity and Spark's ALS (EngineConfig.on_spark).
    """
    config = EngineConfig.from_overrides(settings.RECOMMENDATIONS_ENGINE)
    if content_type is not None and trainer_for(content_type) == "spark":
        return config.on_spark(content_type.value)
    return config


def spark_options() -> SparkOptions | None:
    """Where ``spark_als`` fits, from the SPARK_* settings; None when no Spark master is configured."""
    if not settings.SPARK_MASTER_URL:
        return None
    return SparkOptions(
        master=settings.SPARK_MASTER_URL,
        staging_dir=Path(settings.SPARK_STAGING_DIR),
        driver_memory=settings.SPARK_DRIVER_MEMORY,
        executor_memory=settings.SPARK_EXECUTOR_MEMORY,
        conf=dict(settings.SPARK_CONF),
    )


def _release_abandoned_lock(content_type: ContentType) -> None:
    """A run no worker ever took (no heartbeat: no worker was running) is marked failed after the lock TTL."""
    cutoff = timezone.now() - timedelta(seconds=settings.TRAINING_LOCK_TTL)
    abandoned = TrainingLog.objects.filter(
        content_type=content_type.value, status=TrainingStatus.RUNNING, heartbeat_at=None, started_at__lt=cutoff
    ).update(status=TrainingStatus.FAILED, finished_at=timezone.now(), error="abandoned: no worker took it")
    if abandoned:
        logger.warning("released an abandoned %s training lock", content_type.value)


def reap_stalled_trainings() -> int:
    """Fail every run whose heartbeat stopped (its process was killed), releasing its type's lock; returns how many.

    The worker runs this every TRAINING_HEARTBEAT_S seconds (settings.WORKER_PERIODIC), and so does every new
    training before it takes the lock: a killed worker's run is failed TRAINING_STALE_AFTER_S after its last beat.
    """
    now = timezone.now()
    stale_s = settings.TRAINING_STALE_AFTER_S
    stalled = TrainingLog.objects.filter(
        status=TrainingStatus.RUNNING, heartbeat_at__lt=now - timedelta(seconds=stale_s)
    ).update(
        status=TrainingStatus.FAILED,
        finished_at=now,
        error=f"stalled: no heartbeat for {stale_s} s (its worker stopped or was killed)",
    )
    if stalled:
        logger.warning("failed %d training run(s) whose worker stopped beating", stalled)
    return stalled


def _beat(log_id: int) -> bool:
    """One heartbeat; False when the row is no longer running (a reaper failed it)."""
    return bool(
        TrainingLog.objects.filter(pk=log_id, status=TrainingStatus.RUNNING).update(heartbeat_at=timezone.now())
    )


# The runs training in this process (their heartbeats): what a worker shutting down fails at once.
_beating: set[int] = set()


def fail_runs_of_this_process(error: str) -> int:
    """Fail this process's running trainings now (a worker stopping mid-run), rather than a reaper later."""
    if not _beating:
        return 0
    return TrainingLog.objects.filter(pk__in=list(_beating), status=TrainingStatus.RUNNING).update(
        status=TrainingStatus.FAILED, finished_at=timezone.now(), error=error
    )


@contextmanager
def heartbeat(log: TrainingLog) -> Iterator[None]:
    """Beat on ``log``'s row now and every TRAINING_HEARTBEAT_S seconds in a thread, until the block ends."""
    _beat(log.pk)
    _beating.add(log.pk)
    stop = threading.Event()

    def beat_until_stopped() -> None:
        try:
            while not stop.wait(settings.TRAINING_HEARTBEAT_S):
                try:
                    if not _beat(log.pk):
                        logger.error("training run %s was failed by a reaper while it still ran", log.pk)
                        return
                except (OperationalError, InterfaceError) as exc:
                    # The database is away: the next beat may reach it; past TRAINING_STALE_AFTER_S the run is failed.
                    logger.warning("training run %s: heartbeat not written (%s)", log.pk, exc)
        finally:
            connection.close()

    thread = threading.Thread(target=beat_until_stopped, name=f"heartbeat-{log.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        _beating.discard(log.pk)
        stop.set()
        thread.join()


def acquire_training(content_type: ContentType, *, triggered_by: str) -> TrainingLog:
    """Create the running TrainingLog of a new run, or raise TrainingLocked if one is running."""
    reap_stalled_trainings()
    _release_abandoned_lock(content_type)
    try:
        with transaction.atomic():
            return TrainingLog.objects.create(
                content_type=content_type.value, status=TrainingStatus.RUNNING, triggered_by=triggered_by[:32]
            )
    except IntegrityError:
        raise TrainingLocked(content_type=content_type.value) from None


def data_fingerprint(arrays: InteractionArrays, catalog: Sequence[CatalogItem], config: EngineConfig) -> str:
    """Changes whenever the interactions, the catalog or the engine settings change."""
    digest = hashlib.sha256()
    for column in (arrays.user_ids, arrays.kinds, arrays.values, arrays.timestamps):
        digest.update(np.ascontiguousarray(column).tobytes())
    digest.update("\x1f".join(arrays.item_ids.tolist()).encode())
    for item in catalog:
        digest.update(f"{item.item_id}\x1f{'|'.join(item.genres)}\x1e".encode())
    digest.update(repr(sorted(config.to_dict().items())).encode())
    return digest.hexdigest()


def _last_fingerprint(content_type: ContentType) -> str | None:
    last = (
        TrainingLog.objects.filter(content_type=content_type.value, status=TrainingStatus.SUCCEEDED)
        .order_by("-started_at")
        .values_list("data_fingerprint", flat=True)
        .first()
    )
    return last or None


def train_content_type(
    content_type: ContentType,
    *,
    triggered_by: str,
    force: bool = False,
    log: TrainingLog | None = None,
    progress: Progress | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainingLog:
    """Train, evaluate, save and log one content type's model; returns the finished TrainingLog.

    ``log`` is a run already acquired by ``start_training_run``; otherwise the lock is taken here.
    ``progress`` hears each stage, ``on_epoch`` each epoch of the final fit.
    Raises TrainingLocked when another run holds the type. Any failure is recorded on the log
    (status failed, with the error) and then raised. The run beats a heartbeat while it trains.
    """
    log = log or acquire_training(content_type, triggered_by=triggered_by)
    with heartbeat(log):
        return _train(content_type, log=log, force=force, progress=progress, on_epoch=on_epoch)


def _train(
    content_type: ContentType,
    *,
    log: TrainingLog,
    force: bool,
    progress: Progress | None,
    on_epoch: EpochCallback | None,
) -> TrainingLog:
    say = progress or (lambda message: logger.info("%s: %s", content_type.value, message))
    started = time.perf_counter()
    try:
        say("extracting interactions")
        # A training is worth a real try even right after requests found the graph unreachable (they then fail
        # fast for a few seconds, musicbud.graph.FAIL_FAST_S): it runs once, not once per request.
        graph.forget_unreachable()
        # Before the first read: a user forgotten after this may still be in the data (forgetting masks them).
        data_read_at = timezone.now()
        store = get_interaction_store()
        arrays = store.all_interactions(content_type)
        catalog = store.catalog(content_type)
        config = engine_config(content_type)
        spark = spark_options()
        fingerprint = data_fingerprint(arrays, catalog, config)
        if not force and fingerprint == _last_fingerprint(content_type) and _model_exists(content_type):
            say("data unchanged since the last model: skipped (use --force to retrain)")
            return _finish(log, started, status=TrainingStatus.SKIPPED, data_fingerprint=fingerprint)
        say(f"selecting a model on a validation split ({len(arrays)} interactions)")
        selection = select_model(arrays, catalog, config, content_type=content_type.value, k=HOLDOUT_K, spark=spark)
        say(f"fitting {selection.winner.label} on all interactions ({selection.reason})")
        artifact = train_model(arrays, catalog, config, on_epoch=on_epoch, selection=selection, spark=spark)
        artifact.metadata["counts"]["interactions"] = len(arrays)
        artifact.metadata[DATA_READ_AT] = data_read_at.isoformat()
        model, popular = selection.winner_metrics, selection.popularity_metrics
        save_artifact(artifact, settings.MODEL_DIR, content_type.value)
        say(f"saved model {artifact.version}")
        return _finish(
            log,
            started,
            status=TrainingStatus.SUCCEEDED,
            data_fingerprint=fingerprint,
            model_version=artifact.version,
            users=artifact.n_users,
            items=artifact.n_items,
            interactions=len(arrays),
            k=HOLDOUT_K,
            precision_at_k=model.precision if model else None,
            recall_at_k=model.recall if model else None,
            ndcg_at_k=model.ndcg if model else None,
            auc=selection.auc,
            # The fields above are the winner's validation metrics; here the baseline and every candidate.
            metrics={
                **({"model": model.summary(HOLDOUT_K)} if model else {}),
                **({"popularity": popular.summary(HOLDOUT_K)} if popular else {}),
                # With the refit's seconds and the total against training_budget_s (engine/train.py).
                "selection": artifact.metadata["selection"],
                "trainer": {"name": trainer_for(content_type), "spark_master": spark.master if spark else None},
            },
        )
    except BaseException as exc:
        _finish(log, started, status=TrainingStatus.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:10_000])
        raise


def _model_exists(content_type: ContentType) -> bool:
    from recommendations.recommending import current_model

    return current_model(content_type) is not None


def _finish(log: TrainingLog, started: float, *, status: str, **fields: object) -> TrainingLog:
    log.status = status
    log.finished_at = timezone.now()
    log.duration_s = round(time.perf_counter() - started, 3)
    for name, value in fields.items():
        setattr(log, name, value)
    log.save()
    return log


def run_queued_training(*, log_id: int, force: bool = True, email_on_failure: bool = False) -> str:
    """The worker's side of ``start_training_run``: train the run ``log_id`` acquired; returns its final status.

    A run failed meanwhile (by a reaper, while no worker ran) is not trained. A failure is on the TrainingLog
    and raised, so the queue records the task as failed too.
    """
    log = TrainingLog.objects.filter(pk=log_id, status=TrainingStatus.RUNNING).first()
    if log is None:
        logger.warning("training run %s is no longer running: not started", log_id)
        return "not_started"
    content_type = ContentType(log.content_type)
    try:
        return train_content_type(content_type, triggered_by=log.triggered_by, log=log, force=force).status
    except Exception as exc:
        if email_on_failure:
            notify_admins_of_failure(f"training failed for {content_type.value}: {exc}")
        raise


def start_training_run(
    *, content_types: Sequence[str], triggered_by: str, force: bool = True, email_on_failure: bool = False
) -> list[int]:
    """Queue a training of some types for the worker; returns the TrainingLog ids (the run ids).

    The locks are taken here, before returning, so a caller learns at once (TrainingLocked, 409) that
    a type is busy. The training itself is a task (``recommendations.tasks.train``) that the worker runs.
    """
    from recommendations import tasks

    types = [ContentType(value) for value in dict.fromkeys(content_types)]
    logs: list[TrainingLog] = []
    try:
        for content_type in types:
            logs.append(acquire_training(content_type, triggered_by=triggered_by))
    except TrainingLocked:
        _fail_unstarted(logs, "not started: another type was locked")
        raise
    queued = 0
    try:
        for log in logs:
            tasks.train.enqueue(log_id=log.id, force=force, email_on_failure=email_on_failure)
            queued += 1
    except (OperationalError, InterfaceError):
        _fail_unstarted(logs[queued:], "not started: the task queue could not be written")
        raise
    return [log.id for log in logs]


def _fail_unstarted(logs: Sequence[TrainingLog], error: str) -> None:
    TrainingLog.objects.filter(id__in=[log.id for log in logs], status=TrainingStatus.RUNNING).update(
        status=TrainingStatus.FAILED, finished_at=timezone.now(), error=error
    )


def notify_admins_of_failure(message: str) -> None:
    """Mail settings.ADMINS about a failed training; a mail server outage is logged, not raised."""
    try:
        mail_admins("Recommendation training failed", message, fail_silently=False)
    except OSError as exc:
        logger.error("could not mail the admins about a failed training: %s", exc)
