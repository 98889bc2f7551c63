"""Which model version serves each content type: the versions kept on disk, and rolling back to one.

``model_overview`` is what the admin's models page shows: per type the served version with its training
numbers, its holdout metrics beside the popularity baseline's (with the lift), every candidate model selection
measured, and the versions kept on disk (``save_artifact`` keeps the newest 3, never pruning the served one).

``roll_back`` serves a kept older version again through the trainer's own publication step
(``engine.artifact.publish_version``: the checked folder, then the atomic ``CURRENT`` switch) while holding the
training lock (a running TrainingLog row), so it can never interleave with a training about to publish. Every
worker's ``ModelStore`` notices the new ``CURRENT`` on its next request (one ``stat``) and serves the older arrays
without a restart. No cache is invalidated: every cached page and list names the model version in its key. The run
is recorded as a TrainingLog with status ``rolled_back``: who (``triggered_by`` ``admin:<user id>``), when
(``started_at`` / ``finished_at``), and from which version to which (``metrics["rolled_back_from"]``).

A rolled-back type stays on the older version until a training publishes a newer one. The nightly training
skips while the data is unchanged (the last successful run's fingerprint), so the model that was rolled back
is not simply rebuilt from the same data overnight.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from musicbud.errors import Conflict, NotFound
from recommendations.domain import ContentType
from recommendations.engine import CorruptModel, load_artifact
from recommendations.engine.artifact import current_version, list_versions, publish_version
from recommendations.models import TrainingLog, TrainingStatus
from recommendations.training import acquire_training

logger = logging.getLogger(__name__)

RECENT_RUNS = 5
METRIC_ORDER = ("ndcg", "precision", "recall", "coverage")


class UnknownModelVersion(NotFound):
    code = "model_version_not_found"
    default_message = "No such model version is kept for this content type."


class VersionAlreadyServed(Conflict):
    code = "model_version_already_served"
    default_message = "This model version is the one being served."


@dataclass(frozen=True)
class MetricRow:
    """One holdout metric of a model beside the popularity baseline's, and the model's lift over it."""

    name: str  # "ndcg@10", "precision@10", "recall@10", "coverage"
    model: float | None
    popularity: float | None

    @property
    def lift(self) -> float | None:
        """model / popularity (1.0 is no better); None without both or when popularity scored 0."""
        if self.model is None or not self.popularity:
            return None
        return self.model / self.popularity


@dataclass(frozen=True)
class Candidate:
    """One candidate model selection measured on the validation split (or skipped for the time budget)."""

    label: str
    model: str
    metrics: dict[str, float]
    seconds: float | None
    skipped: str | None
    chosen: bool

    def _metric(self, name: str) -> float | None:
        return next((v for k, v in self.metrics.items() if k.split("@")[0] == name), None)

    @property
    def ndcg(self) -> float | None:
        return self._metric("ndcg")

    @property
    def precision(self) -> float | None:
        return self._metric("precision")

    @property
    def recall(self) -> float | None:
        return self._metric("recall")

    @property
    def coverage(self) -> float | None:
        return self._metric("coverage")


@dataclass(frozen=True)
class KeptVersion:
    version: str
    served: bool
    trained_at: datetime | None = None
    kind: str | None = None  # "factors" or "item_item" (engine.artifact)
    model: str | None = None  # the chosen candidate's label, e.g. "ease(lambda_scale=20, popularity_blend=1)"
    users: int | None = None
    items: int | None = None
    interactions: int | None = None
    metrics: tuple[MetricRow, ...] = ()  # holdout (validation split) metrics beside popularity's
    auc: float | None = None
    split: str | None = None  # how the holdout was drawn: "time", "time per user", "random"
    candidates: tuple[Candidate, ...] = ()
    error: str | None = None  # why the folder cannot be read (it could not be served either)

    @property
    def headline(self) -> MetricRow | None:
        """The metric model selection ranks by (ndcg@k), beside popularity's."""
        return self.metrics[0] if self.metrics else None


@dataclass(frozen=True)
class TypeModels:
    content_type: str
    served: KeptVersion | None  # None while the type has no model: popularity is served
    versions: tuple[KeptVersion, ...]  # every kept version, newest first
    runs: tuple[TrainingLog, ...]  # the type's latest training logs (roll backs included)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _section(meta: dict[str, Any], name: str) -> dict[str, Any]:
    value = meta.get(name)
    return value if isinstance(value, dict) else {}


def _metric_rows(metrics: dict[str, Any]) -> tuple[MetricRow, ...]:
    model, popular = metrics.get("model") or {}, metrics.get("popularity") or {}
    names = sorted(set(model) | set(popular), key=lambda n: (METRIC_ORDER.index(n.split("@")[0]), n))
    return tuple(MetricRow(name, _number(model.get(name)), _number(popular.get(name))) for name in names)


# A setting as selection wrote it (``regularization=3.33333``: a grid climbed by thirds) is shown to 4 significant
# digits: the label stays the key in the stored selection, only the page rounds it.
_LONG_NUMBER = re.compile(r"\d+\.\d{4,}(?:e[-+]?\d+)?")


def readable_label(label: str) -> str:
    """A candidate's label with its long numbers rounded for people (``als(regularization=3.333)``)."""
    return _LONG_NUMBER.sub(lambda m: f"{float(m.group()):.4g}", label)


def _model_label(meta: dict[str, Any]) -> str | None:
    label = meta.get("candidate") or meta.get("model")
    return readable_label(str(label)) if label else None


def _candidates(selection: dict[str, Any]) -> tuple[Candidate, ...]:
    chosen = selection.get("candidate")
    return tuple(
        Candidate(
            label=readable_label(str(trial.get("candidate"))),
            model=str(trial.get("model")),
            metrics={str(k): float(v) for k, v in (trial.get("metrics") or {}).items()},
            seconds=_number(trial.get("seconds")),
            skipped=trial.get("skipped"),
            chosen=trial.get("candidate") == chosen,
        )
        for trial in selection.get("trials") or []
    )


def _kept_version(type_dir: Path, version: str, served: str | None) -> KeptVersion:
    try:
        # Opened as serving would open it (memory-mapped, every file checked), so "kept" means "can be served".
        meta = load_artifact(type_dir / version).metadata
    except CorruptModel as exc:
        return KeptVersion(version, version == served, error=str(exc))
    counts, metrics, selection = (_section(meta, name) for name in ("counts", "metrics", "selection"))
    return KeptVersion(
        version=version,
        served=version == served,
        trained_at=_time(meta.get("trained_at")),
        kind=meta.get("kind"),
        model=_model_label(meta),
        users=counts.get("users"),
        items=counts.get("items"),
        # "events" in models saved before training recorded "interactions" (the same count).
        interactions=counts.get("interactions", counts.get("events")),
        metrics=_metric_rows(metrics),
        auc=_number(metrics.get("auc")),
        split=metrics.get("split") or selection.get("split"),
        candidates=_candidates(selection),
    )


def type_models(content_type: ContentType) -> TypeModels:
    """What serves one type, the versions kept on disk (newest first) and its latest training logs."""
    type_dir = Path(settings.MODEL_DIR) / content_type.value
    served = current_version(settings.MODEL_DIR, content_type.value)
    versions = tuple(_kept_version(type_dir, v, served) for v in reversed(list_versions(type_dir)))
    runs = tuple(TrainingLog.objects.filter(content_type=content_type.value).order_by("-started_at")[:RECENT_RUNS])
    return TypeModels(
        content_type=content_type.value,
        served=next((v for v in versions if v.served), None),
        versions=versions,
        runs=runs,
    )


def model_overview() -> list[TypeModels]:
    return [type_models(content_type) for content_type in ContentType]


def roll_back(*, content_type: ContentType, version: str, by_user_id: int) -> TrainingLog:
    """Serve ``version``, a kept older model of the type, again (see the module docstring).

    Raises ``UnknownModelVersion`` when no such version is kept, ``VersionAlreadyServed`` when it is the
    served one, ``TrainingLocked`` while a training of the type runs, ``CorruptModel`` when the folder cannot
    be served (then nothing changed). The returned TrainingLog is the record of the roll back.
    """
    type_dir = Path(settings.MODEL_DIR) / content_type.value
    if version not in list_versions(type_dir):
        raise UnknownModelVersion(content_type=content_type.value, version=version)
    before = current_version(settings.MODEL_DIR, content_type.value)
    if version == before:
        raise VersionAlreadyServed(content_type=content_type.value, version=version)
    log = acquire_training(content_type, triggered_by=f"admin:{by_user_id}")
    try:
        artifact = publish_version(settings.MODEL_DIR, content_type.value, version)
    except BaseException as exc:
        log.status, log.finished_at, log.error = TrainingStatus.FAILED, timezone.now(), f"roll back failed: {exc}"
        log.save()
        raise
    counts, metrics = _section(artifact.metadata, "counts"), _section(artifact.metadata, "metrics")
    model, finished = metrics.get("model") or {}, timezone.now()
    k = int(metrics.get("k", 10))
    log.status, log.finished_at = TrainingStatus.ROLLED_BACK, finished
    log.duration_s = round((finished - log.started_at).total_seconds(), 3)
    log.model_version, log.users, log.items = version, artifact.n_users, artifact.n_items
    log.interactions = counts.get("interactions")
    # The served model's own holdout numbers, so the training history shows what serves from now on.
    log.k, log.auc = k, _number(metrics.get("auc"))
    log.ndcg_at_k, log.precision_at_k = _number(model.get(f"ndcg@{k}")), _number(model.get(f"precision@{k}"))
    log.recall_at_k = _number(model.get(f"recall@{k}"))
    log.metrics = {**metrics, "rolled_back_from": before, "selection": artifact.metadata.get("selection")}
    log.save()
    logger.info("%s rolled back from %s to %s by user %s", content_type.value, before, version, by_user_id)
    return log
