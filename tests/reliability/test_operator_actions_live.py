"""A running two-worker server (granian, production settings): an item hidden in the admin is gone from every
answer at once, and a roll back in the admin makes it serve the older model, without a restart.

The admin actions run through the admin's real URLs in this process, on the same database, Redis and model
folder as the server: what the server's workers see is only what they share with it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from recommendations.engine import load_artifact, save_artifact
from recommendations.engine.artifact import CURRENT, new_version
from recommendations.models import TrainingLog, TrainingStatus
from tests.api.conftest import SEEDED_USER_ID, make_user
from tests.reliability.support import bearer, database_url, live_server

REQUESTS = 12  # each on a new connection: the kernel spreads them over both workers


def answers(server_url: str) -> list[dict[str, object]]:
    bodies = []
    for _ in range(REQUESTS):
        with httpx.Client(base_url=server_url, headers=bearer(SEEDED_USER_ID), timeout=10) as http:
            response = http.get("/v1/recommendations/movies/", params={"limit": 10})
            assert response.status_code == 200, response.text
            bodies.append(response.json())
    return bodies


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings", "redis_settings", "seeded")
def test_hiding_and_rolling_back_in_the_admin_reach_every_worker_of_a_running_server(
    trained_model_dir: Path, tmp_path: Path, settings: Any, admin_user: Any
) -> None:
    model_dir = tmp_path / "models"
    shutil.copytree(trained_model_dir, model_dir)
    older = (model_dir / "movies" / CURRENT).read_text().strip()
    artifact = load_artifact(model_dir / "movies" / older)
    newer = new_version()
    save_artifact(dataclasses.replace(artifact, metadata={**artifact.metadata, "version": newer}), model_dir, "movies")
    settings.MODEL_DIR = model_dir
    make_user(SEEDED_USER_ID)
    admin = Client()
    admin.force_login(admin_user)

    with live_server(
        tmp_path, SERVE_WORKERS="2", DATABASE_URL=database_url(connection.settings_dict),
        RECOMMENDATIONS_SOURCE="database", MODEL_DIR=str(model_dir), REDIS_URL=os.environ["REDIS_URL"],
    ) as server:  # fmt: skip
        before = answers(server.url)
        assert {body["model_version"] for body in before} == {newer}
        top = before[0]["items"][0]["item_id"]  # type: ignore[index]

        hidden = admin.post(
            "/admin/recommendations/catalogentry/hide/", {"action": "hide", "content_type": "movies", "item_ids": [top]}
        )
        assert hidden.status_code == 302
        for body in answers(server.url):
            assert top not in [item["item_id"] for item in body["items"]]  # type: ignore[attr-defined]

        started = timezone.now()
        rolled = admin.post(f"/admin/recommendations/servedmodel/movies/rollback/{older}/")
        assert rolled.status_code == 302
        after = answers(server.url)
        assert {body["model_version"] for body in after} == {older}
        assert all(top not in [i["item_id"] for i in body["items"]] for body in after)  # type: ignore[attr-defined]
        assert "Traceback" not in server.log_text()

    (log,) = TrainingLog.objects.filter(status=TrainingStatus.ROLLED_BACK)
    assert log.triggered_by == f"admin:{admin_user.pk}"
    assert log.model_version == older
    assert log.finished_at is not None
    assert started <= log.started_at <= log.finished_at <= timezone.now()
