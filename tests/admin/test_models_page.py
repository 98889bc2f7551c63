"""The models page and the roll back through the admin's real URLs.

The served manga model is trained here by the production path (``train_content_type``: model selection over
several candidates, holdout metrics, save) on top of the session's models, so the page has two kept versions.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from recommendations.domain import ContentType
from recommendations.engine.artifact import CURRENT
from recommendations.models import TrainingLog, TrainingStatus
from recommendations.publishing import readable_label
from recommendations.training import train_content_type
from tests.admin.conftest import MemberApi, messages_of, refused_to_member

pytestmark = pytest.mark.usefixtures("seeded")

MODELS = "/admin/recommendations/servedmodel/"
# Several candidates, small grids: a real selection in about a second.
SELECTING = {
    "no_components": 4, "epochs": 4, "num_threads": 1, "min_validation_users": 10, "candidates": ["ease", "als"],
    "ease_lambda_scales": [5.0, 20.0], "popularity_blends": [0.0], "history_half_lives_days": [0.0],
    "als_factors": [4], "als_regularizations": [1.0],
}  # fmt: skip


@pytest.fixture
def model_dir(settings: Any, tmp_path: Path, trained_model_dir: Path) -> Path:
    """The session's models (copied), plus a newer manga model trained with model selection."""
    target = tmp_path / "models"
    shutil.copytree(trained_model_dir, target)
    settings.MODEL_DIR = target
    settings.RECOMMENDATIONS_ENGINE = SELECTING
    train_content_type(ContentType.MANGA, triggered_by="cron", force=True)
    return target


def served(model_dir: Path, content_type: str = "manga") -> str:
    return (model_dir / content_type / CURRENT).read_text().strip()


def versions(model_dir: Path, content_type: str = "manga") -> list[str]:
    return sorted(p.name for p in (model_dir / content_type).iterdir() if p.is_dir())


def rollback_url(version: str, content_type: str = "manga") -> str:
    return f"{MODELS}{content_type}/rollback/{version}/"


def section(page: str, content_type: str) -> str:
    start = page.index(f'id="models-{content_type}"')
    return page[start : page.index("</section>", start)]


def test_the_page_shows_the_served_model_beside_popularity_with_the_lift_and_every_candidate(
    operator_client: Client, model_dir: Path
) -> None:
    older, newer = versions(model_dir)
    meta = json.loads((model_dir / "manga" / newer / "meta.json").read_text())
    response = operator_client.get(MODELS)
    assert response.status_code == 200
    manga = " ".join(section(response.content.decode(), "manga").split())

    assert f'<code class="served-version">{newer}</code>' in manga
    assert f"on {meta['counts']['interactions']} interactions of {meta['counts']['users']} users" in manga
    model, popular = meta["metrics"]["model"], meta["metrics"]["popularity"]
    for name in ("ndcg@10", "precision@10", "recall@10", "coverage"):
        lift = f"{model[name] / popular[name]:.2f}x" if popular[name] else "-"
        row = f"<tr><td>{name}</td><td>{model[name]:.4f}</td><td>{popular[name]:.4f}</td><td>"
        assert row in manga, name
        assert lift in manga[manga.index(row) :].split("</tr>")[0]
    trials = meta["selection"]["trials"]
    assert {t["model"] for t in trials} >= {"popularity", "ease", "als"}
    for trial in trials:
        assert f"<td>{readable_label(trial['candidate'])}</td>" in manga
    assert f'<tr class="chosen"><td>{readable_label(meta["selection"]["candidate"])}</td>' in manga
    assert [v for v in (older, newer) if f'data-version="{v}"' in manga] == [older, newer]
    assert manga.index(f'data-version="{newer}"') < manga.index(f'data-version="{older}"')  # newest first
    assert manga.count("Roll back to this") == 1
    assert "<td>cron</td>" in manga


def test_the_roll_back_asks_first_and_a_get_changes_nothing(operator_client: Client, model_dir: Path) -> None:
    older, newer = versions(model_dir)
    response = operator_client.get(rollback_url(older))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Yes, roll manga back to {older}" in page
    assert f"manga is served by <code>{newer}</code>" in page
    assert served(model_dir) == newer
    assert not TrainingLog.objects.filter(status=TrainingStatus.ROLLED_BACK).exists()


def test_rolling_back_serves_the_older_version_at_once_and_the_log_records_who_and_when(
    operator_client: Client, operator: Any, model_dir: Path, member_api: MemberApi
) -> None:
    older, newer = versions(model_dir)
    assert member_api.json("/v1/recommendations/manga/")["model_version"] == newer
    before = timezone.now()

    response = operator_client.post(rollback_url(older), follow=True)

    assert response.redirect_chain[-1][0] == MODELS
    (log,) = TrainingLog.objects.filter(status=TrainingStatus.ROLLED_BACK)
    assert messages_of(response) == [f"manga now serves {older} (was {newer}); training log {log.pk}."]
    assert served(model_dir) == older
    assert member_api.json("/v1/recommendations/manga/")["model_version"] == older  # no restart
    assert log.triggered_by == f"admin:{operator.pk}"
    assert log.content_type == "manga"
    assert log.model_version == older
    assert log.finished_at is not None
    assert before <= log.started_at <= log.finished_at <= timezone.now()
    assert log.metrics["rolled_back_from"] == newer
    older_meta = json.loads((model_dir / "manga" / older / "meta.json").read_text())
    assert log.ndcg_at_k == older_meta["metrics"]["model"]["ndcg@10"]
    manga = section(response.content.decode(), "manga")
    assert f'<code class="served-version">{older}</code>' in manga
    assert f'href="{rollback_url(newer)}"' in manga  # and forward again, if need be
    assert versions(model_dir) == [older, newer]  # a roll back deletes nothing


def test_a_roll_back_while_the_type_trains_is_refused_and_changes_nothing(
    operator_client: Client, model_dir: Path
) -> None:
    older, newer = versions(model_dir)
    TrainingLog.objects.create(content_type="manga", status=TrainingStatus.RUNNING, triggered_by="cron")
    response = operator_client.post(rollback_url(older), follow=True)
    assert messages_of(response) == [
        "Not rolled back: A training of this content type is already running. (training_in_progress)"
    ]
    assert served(model_dir) == newer


def test_versions_not_kept_already_served_or_unreadable_cannot_be_rolled_back_to(
    operator_client: Client, model_dir: Path
) -> None:
    older, newer = versions(model_dir)
    for method in ("get", "post"):
        missing = getattr(operator_client, method)(rollback_url("20200101T000000000000Z-abcdef"), follow=True)
        assert "model_version_not_found" in messages_of(missing)[0] or "is not kept" in messages_of(missing)[0]
        current = getattr(operator_client, method)(rollback_url(newer), follow=True)
        assert "served" in messages_of(current)[0]
        books = getattr(operator_client, method)(rollback_url(older, "books"), follow=True)
        assert messages_of(books) == ["Unknown content type 'books'."]

    (model_dir / "manga" / older / "item_ids.npy").write_bytes(b"truncated")
    page = section(operator_client.get(MODELS).content.decode(), "manga")
    assert "unreadable" in page
    refused = operator_client.post(rollback_url(older), follow=True)
    assert messages_of(refused)[0].endswith("(model_corrupt)")
    assert served(model_dir) == newer
    assert TrainingLog.objects.get(status=TrainingStatus.FAILED).error.startswith("roll back failed")


def test_a_type_without_a_model_says_popularity_is_served(operator_client: Client, model_dir: Path) -> None:
    shutil.rmtree(model_dir / "anime")
    page = section(operator_client.get(MODELS).content.decode(), "anime")
    assert "No model yet: this type is served by popularity" in page


def test_members_go_to_the_login_page_and_only_staff_with_the_right_may_roll_back(
    member_client: Client, bare_staff_client: Client, viewer_client: Client, model_dir: Path
) -> None:
    older, newer = versions(model_dir)
    assert refused_to_member(member_client.get(MODELS))
    assert refused_to_member(member_client.post(rollback_url(older)))
    assert bare_staff_client.get(MODELS).status_code == 403
    assert viewer_client.get(MODELS).status_code == 200
    assert "Roll back to this" not in viewer_client.get(MODELS).content.decode()
    assert viewer_client.get(rollback_url(older)).status_code == 403
    assert viewer_client.post(rollback_url(older)).status_code == 403
    assert served(model_dir) == newer
    assert timezone.now() - TrainingLog.objects.latest("started_at").started_at < timedelta(minutes=5)


def test_a_candidates_long_numbers_are_shown_to_four_significant_digits() -> None:
    assert readable_label("als(factors=64, regularization=3.33333)") == "als(factors=64, regularization=3.333)"
    assert readable_label("ease(rp3beta_weight=0.015625)") == "ease(rp3beta_weight=0.01562)"
    assert readable_label("popularity") == "popularity"
