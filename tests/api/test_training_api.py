"""POST /v1/recommendations/train/models/ and GET on a run (staff only)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tests.api.conftest import Api

pytestmark = pytest.mark.usefixtures("seeded")


async def _wait_for(api: Api, run_id: int, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        body = (await api.get(f"/v1/recommendations/train/models/{run_id}/")).json()
        if body["status"] != "running" or asyncio.get_running_loop().time() > deadline:
            return dict(body)
        await asyncio.sleep(0.5)


async def test_staff_start_training_and_follow_the_run_to_its_metrics(
    staff_api: Api, no_models: Any, settings: Any, start_worker: Callable[..., Any]
) -> None:
    settings.RECOMMENDATIONS_ENGINE = {"no_components": 8, "epochs": 3, "num_threads": 1}
    await sync_to_async(start_worker)()
    response = await staff_api.post("/v1/recommendations/train/models/", {"content_types": ["manga"]})
    assert response.status_code == 202, response.json()
    runs = response.json()["runs"]
    assert [run["content_type"] for run in runs] == ["manga"]
    assert runs[0]["status"] == "running"
    assert runs[0]["triggered_by"] == "api:900"
    finished = await _wait_for(staff_api, runs[0]["id"])
    assert finished["status"] == "succeeded", finished["error"]
    assert finished["model_version"]
    assert finished["interactions"] > 0
    assert 0.0 <= finished["ndcg_at_k"] <= 1.0
    status = (await staff_api.get("/v1/recommendations/status/")).json()
    assert status["manga"]["model_version"] == finished["model_version"]
    page = (await staff_api.get("/v1/recommendations/manga/", limit=3)).json()
    assert page["model_version"] == finished["model_version"]


async def test_a_second_training_of_a_running_type_is_409(staff_api: Api, no_models: Any) -> None:
    from recommendations.domain import ContentType
    from recommendations.training import acquire_training

    await sync_to_async(acquire_training)(ContentType.ANIME, triggered_by="test")
    response = await staff_api.post("/v1/recommendations/train/models/", {"content_types": ["anime"]})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "training_in_progress"


async def test_an_unknown_type_to_train_is_400(staff_api: Api) -> None:
    response = await staff_api.post("/v1/recommendations/train/models/", {"content_types": ["podcasts"]})
    assert response.status_code == 400
    assert "content_types" in response.json()["error"]["details"]


async def test_an_unknown_run_is_404(staff_api: Api) -> None:
    response = await staff_api.get("/v1/recommendations/train/models/987654/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_training_started_through_the_api_runs_in_the_worker_never_in_the_web_process(
    staff_api: Api, no_models: Any, settings: Any, start_worker: Callable[..., Any]
) -> None:
    from recommendations.models import TrainingLog

    settings.RECOMMENDATIONS_ENGINE = {"no_components": 8, "epochs": 3, "num_threads": 1}
    threads_before = {thread.ident for thread in threading.enumerate()}
    response = await staff_api.post("/v1/recommendations/train/models/", {"content_types": ["movies", "anime"]})
    assert response.status_code == 202, response.json()
    run_ids = [run["id"] for run in response.json()["runs"]]

    # Queued, not started: no thread of this (the web) process trains, and nothing beats a heartbeat yet.
    new_threads = [t.name for t in threading.enumerate() if t.ident not in threads_before]
    assert not [name for name in new_threads if name.startswith(("train", "heartbeat"))], new_threads
    queued = [log.heartbeat_at async for log in TrainingLog.objects.filter(id__in=run_ids)]
    assert queued == [None, None]

    worker = await sync_to_async(start_worker)()
    finished = [await _wait_for(staff_api, run_id) for run_id in run_ids]
    assert [run["status"] for run in finished] == ["succeeded", "succeeded"], [run["error"] for run in finished]
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("train", "heartbeat"))]
    assert worker.log_text().count("path=recommendations.tasks.train state=SUCCESSFUL") == 2, worker.log_text()
