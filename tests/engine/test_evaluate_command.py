from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from recommendations.engine.config import EngineConfig

from .conftest import clustered_interactions


def write_ratings(path: Path, rows: list[tuple[int, str]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["user", "item", "rating"])
        writer.writerows((f"user-{user}", item, 5) for user, item in rows)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    arrays = clustered_interactions(n_users=40)
    pairs = list(zip(arrays.user_ids.tolist(), arrays.item_ids.tolist(), strict=True))
    train = [p for n, p in enumerate(pairs) if n % 6 != 0]
    test = [p for n, p in enumerate(pairs) if n % 6 == 0]
    write_ratings(tmp_path / "train.csv", train)
    write_ratings(tmp_path / "test.csv", test)
    return tmp_path / "train.csv", tmp_path / "test.csv"


@override_settings(RECOMMENDATIONS_ENGINE={"no_components": 8, "epochs": 20})
def test_the_command_prints_model_and_popularity_metrics_as_json_last(files: tuple[Path, Path], tmp_path: Path) -> None:
    out = StringIO()
    top_k = tmp_path / "top.csv"
    call_command("evaluate_recommendations", "--train", files[0], "--test", files[1], "--k", "3",
                 "--topk-out", top_k, stdout=out)  # fmt: skip
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["users"] == 40
    assert set(result["model"]) == {"precision@3", "recall@3", "ndcg@3", "coverage"}
    assert set(result["popularity"]) == set(result["model"])
    assert result["fit_seconds"] > 0
    rows = list(csv.DictReader(top_k.open()))
    assert len(rows) == 40 * 3
    assert rows[0]["user"].startswith("user-")
    assert {row["rank"] for row in rows} == {"1", "2", "3"}


@override_settings(RECOMMENDATIONS_ENGINE={"epoch": 3})
def test_an_unknown_engine_setting_fails_the_command(files: tuple[Path, Path]) -> None:
    with pytest.raises(CommandError, match="epoch"):
        call_command("evaluate_recommendations", "--train", files[0], "--test", files[1])


def test_a_missing_file_fails_the_command(files: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        call_command("evaluate_recommendations", "--train", tmp_path / "nope.csv", "--test", files[1])


@override_settings(RECOMMENDATIONS_ENGINE={"no_components": 8, "epochs": 4, "ease_lambda_scales": [5.0]})
def test_the_command_reports_each_candidate_the_chosen_one_and_popularity(files: tuple[Path, Path]) -> None:
    out = StringIO()
    call_command("evaluate_recommendations", "--train", files[0], "--test", files[1], "--k", "3", stdout=out)
    lines = out.getvalue().strip().splitlines()
    result = json.loads(lines[-1])
    trials = result["selection"]["trials"]
    assert {t["model"] for t in trials} == {"popularity", "rp3beta", "ease", "als", "lightfm"}
    text = "\n".join(lines[:-1])
    for trial in trials:
        assert trial["candidate"] in text
    assert f"chosen: {result['chosen']} (" in text
    window = result["selection"]["popularity_window_days"]
    assert f"popularity(window_days={window:g})" in text
    assert f"ndcg@3 {result['popularity']['ndcg@3']:.4f}" in text
    assert f"ndcg@3 {result['model']['ndcg@3']:.4f}" in text
    assert f"training_budget_s={EngineConfig().training_budget_s:g}" in text
    assert result["selection"]["budget"]["total_s"] <= result["train_seconds"] + 0.01
