"""POST /v1/recommendations/train/models/ and GET on a run (staff only)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

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
    staff_api: Api, no_models: Any, settings: Any
) -> None:
    settings.RECOMMENDATIONS_ENGINE = {"no_components": 8, "epochs": 3, "num_threads": 1}
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
    from asgiref.sync import sync_to_async

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
