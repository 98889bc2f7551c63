"""Train a content type's model: select the candidate on evidence, refit it on all data, assemble the artifact.

This is the one training path: the service, the evaluation command and the benches all call
``train_model``, so what is measured offline is what is served. The candidates are in
``candidates.py``, the selection in ``selection.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..domain import CatalogItem, InteractionArrays
from .artifact import ModelArtifact
from .candidates import Context, EpochCallback, fit_candidate, load_lightfm, with_similar
from .config import EngineConfig
from .matrix import build_interaction_matrix
from .selection import Selection, catalog_extras, select_model
from .spark import SparkOptions

logger = logging.getLogger(__name__)

__all__ = ["EpochCallback", "load_lightfm", "train_model"]


def train_model(
    arrays: InteractionArrays,
    catalog: Sequence[CatalogItem],
    config: EngineConfig,
    *,
    trained_at: datetime | None = None,
    on_epoch: EpochCallback | None = None,
    content_type: str | None = None,
    min_rating: float | None = None,
    selection: Selection | None = None,
    spark: SparkOptions | None = None,
) -> ModelArtifact:
    """Train on all interactions of one content type; the catalog supplies genres and cold items.

    Runs the selection (``select_model``) unless one is given, then fits its winner on everything.
    The artifact's metadata carries the selection (every candidate's validation metrics) and the
    winner's validation metrics. ``on_epoch`` hears the epochs of a final LightFM fit; ``spark`` is
    where ``spark_als`` fits (engine/spark.py), if this training has Spark.
    """
    if selection is None:
        selection = select_model(arrays, catalog, config, content_type=content_type, min_rating=min_rating, spark=spark)
    refitting = time.perf_counter()
    matrix = build_interaction_matrix(arrays, config, extra_item_ids=catalog_extras(catalog, config))
    ctx = Context(
        matrix=matrix,
        arrays=arrays,
        catalog=catalog,
        config=config,
        popularity_window_days=selection.popularity_window_days,
        trained_at=trained_at,
        spark=spark,
    )
    # Every served model keeps its similar items: a factor model (popularity included) an item-kNN of
    # co-occurrence, an item-item model its own neighbours.
    artifact = with_similar(fit_candidate(ctx, selection.winner, on_epoch=on_epoch), ctx)
    artifact.metadata["selection"] = with_refit(selection, time.perf_counter() - refitting)
    if selection.winner_metrics is not None and selection.popularity_metrics is not None:
        artifact.metadata["metrics"] = {
            "split": selection.split,
            "k": selection.k,
            "users": selection.validation_users,
            "model": selection.winner_metrics.summary(selection.k),
            "popularity": selection.popularity_metrics.summary(selection.k),
            "auc": None if selection.auc is None else round(selection.auc, 5),
        }
    logger.info(
        "trained %s: %d users x %d items in %.1fs (selection %.1fs, refit %.1fs)",
        selection.winner.label, artifact.n_users, artifact.n_items,
        artifact.metadata["selection"]["budget"].get("total_s", 0.0), selection.seconds,
        artifact.metadata["selection"]["budget"].get("refit_s", 0.0),
    )  # fmt: skip
    return artifact


def with_refit(selection: Selection, refit_s: float) -> dict[str, Any]:
    """The selection's summary with the refit's seconds and the training's total against its budget.

    A total over the budget means an estimate was off (a busy machine, or a pinned model whose grid did
    not fit): logged as a warning with the numbers, so the budget can be raised or the pin reconsidered.
    """
    summary = selection.summary()
    budget = summary["budget"]
    total = selection.seconds + refit_s
    budget.update(refit_s=round(refit_s, 3), total_s=round(total, 3))
    limit = budget.get("training_budget_s")
    if limit is not None and total > limit:
        logger.warning(
            "training of %s took %.1fs, over training_budget_s=%g (selection %.1fs, refit %.1fs, %.1fs reserved)",
            selection.winner.label, total, limit, selection.seconds, refit_s, budget.get("reserved_refit_s", 0.0),
        )  # fmt: skip
    return summary
