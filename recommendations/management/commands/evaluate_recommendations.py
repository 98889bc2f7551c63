"""Offline evaluation of the recommender on a train/test pair of ratings files.

Trains exactly what the service trains (same function, same selection of the model on a validation
split of TRAIN, same defaults, settings.RECOMMENDATIONS_ENGINE overrides), ranks all items for every
test user and prints each candidate's validation metrics, the chosen model's and popularity's test
metrics. The last line of output is one JSON object, for scripts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.engine.config import EngineConfig
from recommendations.engine.errors import EngineError
from recommendations.engine.evaluation import evaluate_files


class Command(BaseCommand):
    help = "Train on TRAIN exactly as the service does and report precision/recall/NDCG@k on TEST vs popularity."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--train", required=True, type=Path, help="user,item,rating[,timestamp] file (required)")
        parser.add_argument(
            "--test", required=True, type=Path, help="same format; rows are the held-out items (required)"
        )
        parser.add_argument(
            "--min-rating", type=float, default=None, help="test rows rated >= R are relevant (default: every test row)"
        )
        parser.add_argument("--k", type=int, default=10, help="list length the metrics are at (default: %(default)s)")
        parser.add_argument(
            "--topk-out",
            type=Path,
            default=None,
            help="write the model's lists as user,item,rank (default: not written)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["k"] < 1:
            raise CommandError("--k must be at least 1")
        try:
            config = EngineConfig.from_overrides(getattr(settings, "RECOMMENDATIONS_ENGINE", {}))
            report = evaluate_files(
                options["train"],
                options["test"],
                config=config,
                k=options["k"],
                min_rating=options["min_rating"],
                top_k_out=options["topk_out"],
            )
        except (EngineError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        summary = report.summary()
        selection = summary.get("selection") or {}
        self.stdout.write(f"selection ({selection.get('split')} split of --train, "
                          f"{selection.get('validation_users')} validation users):")  # fmt: skip
        for trial in selection.get("trials", []):
            scored = trial.get("metrics", {}).get(f"ndcg@{report.k}")
            shown = f"ndcg@{report.k} {scored:.4f}" if scored is not None else f"skipped: {trial.get('skipped')}"
            self.stdout.write(f"  {trial['candidate']:<60} {shown}")
        self.stdout.write(f"chosen: {report.model_name} ({selection.get('reason')})")
        self.stdout.write(f"test set, {report.users} users, {report.items} items:")
        window = selection.get("popularity_window_days")
        popular = "popularity" if window is None else f"popularity(window_days={window:g})"
        for name, label in (("model", report.model_name), ("popularity", popular)):
            metrics = ", ".join(f"{key} {value:.4f}" for key, value in summary[name].items())
            self.stdout.write(f"  {name:<10} {metrics}  [{label}]")
        budget = selection.get("budget") or {}
        self.stdout.write(
            f"training {report.train_seconds:.1f}s (selection {selection.get('seconds', 0.0):.1f}s, refit "
            f"{budget.get('refit_s', 0.0):.1f}s; training_budget_s={budget.get('training_budget_s', 0.0):g})"
        )
        self.stdout.write(json.dumps(summary))
