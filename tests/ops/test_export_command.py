"""manage.py export_recommendations: the batch scoring path, streamed a chunk of users at a time."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from recommendations import exporting
from recommendations.domain import ContentType
from recommendations.engine import ModelStore, Recommender
from recommendations.models import ForgottenUser
from tests.api.conftest import FAST_ENGINE, trained_model_dir

__all__ = ["trained_model_dir"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def models(settings: Any, trained_model_dir: Path) -> Path:
    settings.MODEL_DIR = trained_model_dir
    settings.RECOMMENDATIONS_ENGINE = FAST_ENGINE
    return trained_model_dir


def export(*args: str) -> str:
    out = StringIO()
    call_command("export_recommendations", *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_every_user_of_the_model_gets_the_batch_paths_top_n(models: Path) -> None:
    artifact = ModelStore(models).current("anime")
    lines = [json.loads(line) for line in export("--type", "anime", "--all", "--limit", "5").splitlines()]

    assert [line["user_id"] for line in lines] == artifact.user_ids.tolist()
    batch = Recommender(artifact).recommend_batch(artifact.user_ids[:3], k=5, exact=True)
    for n, line in enumerate(lines[:3]):
        assert line["source"] == "model"
        assert line["model_version"] == artifact.version
        assert [item["item_id"] for item in line["items"]] == artifact.item_ids[batch.item_indices[n]].tolist()
        assert [item["rank"] for item in line["items"]] == [1, 2, 3, 4, 5]
        row = artifact.user_index(line["user_id"])
        assert row is not None
        seen = set(artifact.item_ids[artifact.seen.row(row)[0]].tolist())
        assert not seen & {item["item_id"] for item in line["items"]}


def test_listed_users_unknown_and_forgotten_ones_get_popularity(models: Path, tmp_path: Path) -> None:
    ForgottenUser.objects.create(user_id=3, forgotten_at=timezone.now())
    users = tmp_path / "users.txt"
    users.write_text("5\n\n999999\n3\n")
    lines = [json.loads(line) for line in export("--type", "movies", "--users", str(users)).splitlines()]

    assert [(line["user_id"], line["source"]) for line in lines] == [(5, "model"), (999999, "popularity"),
                                                                      (3, "popularity")]  # fmt: skip
    assert lines[1]["items"] == lines[2]["items"]
    assert len(lines[0]["items"]) == 10


def test_csv_has_one_row_per_recommendation(models: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.csv"
    export("--type", "manga", "--all", "--limit", "3", "--format", "csv", "--output", str(output))
    rows = list(csv.DictReader(output.open()))
    artifact = ModelStore(models).current("manga")
    assert len(rows) == 3 * artifact.n_users
    assert list(rows[0]) == list(exporting.CSV_HEADER)
    assert [row["rank"] for row in rows[:3]] == ["1", "2", "3"]


def test_users_are_scored_and_written_a_chunk_at_a_time(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = export("--type", "anime", "--all", "--limit", "4")
    monkeypatch.setattr(exporting, "CHUNK_USERS", 7)
    calls: list[int] = []
    out = StringIO()
    summary = exporting.export_recommendations(
        content_type=ContentType.ANIME, user_ids=None, limit=4, fmt="jsonl", out=out, progress=calls.append
    )
    assert out.getvalue() == whole
    assert calls == [7] * (summary.users // 7) + ([summary.users % 7] if summary.users % 7 else [])
    assert np.sum(calls) == summary.users == summary.from_model


def test_a_bad_line_in_the_users_file_is_an_error_naming_it(models: Path, tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("5\nabc\n")
    with pytest.raises(CommandError, match="line 2"):
        export("--type", "movies", "--users", str(users))


def test_without_a_model_there_is_nothing_to_export(settings: Any, tmp_path: Path) -> None:
    settings.MODEL_DIR = tmp_path / "none"
    with pytest.raises(CommandError, match="nothing_to_export"):
        export("--type", "movies", "--all")


def test_hidden_items_are_exported_for_nobody(models: Path, tmp_path: Path) -> None:
    from recommendations.models import HiddenItem

    users = tmp_path / "users.txt"
    users.write_text("5\n6\n999999\n")
    before = [json.loads(line) for line in export("--type", "movies", "--users", str(users)).splitlines()]
    hidden = {before[0]["items"][0]["item_id"], before[2]["items"][0]["item_id"]}  # a personal and a popular pick
    HiddenItem.objects.bulk_create(HiddenItem(content_type="movies", item_id=item_id) for item_id in hidden)

    after = [json.loads(line) for line in export("--type", "movies", "--users", str(users)).splitlines()]

    for old, new in zip(before, after, strict=True):
        kept = [item["item_id"] for item in old["items"] if item["item_id"] not in hidden]
        assert [item["item_id"] for item in new["items"]][: len(kept)] == kept
        assert len(new["items"]) == len(old["items"])
        assert not hidden & {item["item_id"] for item in new["items"]}
