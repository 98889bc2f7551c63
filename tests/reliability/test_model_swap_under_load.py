"""A model replaced 10 times while HTTP load runs: zero errors, every response names a version that existed."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from recommendations.engine import load_artifact, save_artifact
from recommendations.engine.artifact import CURRENT, new_version
from tests.api.conftest import make_user
from tests.reliability.support import bearer, database_url, live_server, record_figure

SWAPS = 10
CLIENTS = 4
MAX_REQUESTS = 4000
MAX_SECONDS = 30.0
USERS = (5, 6, 7, 8)


def publish_new_version(model_dir: Path) -> str:
    """The served movies model again under a new version: what a training run publishes."""
    type_dir = model_dir / "movies"
    artifact = load_artifact(type_dir / (type_dir / CURRENT).read_text().strip())
    version = new_version()
    save_artifact(
        dataclasses.replace(artifact, metadata={**artifact.metadata, "version": version}), model_dir, "movies"
    )
    return version


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgres_settings")
def test_a_model_replaced_ten_times_under_load_serves_without_errors(trained_model_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "models"
    shutil.copytree(trained_model_dir, model_dir)
    for user_id in USERS:
        make_user(user_id)
    existed = {(model_dir / "movies" / CURRENT).read_text().strip()}
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    stop = threading.Event()

    with live_server(
        tmp_path, DATABASE_URL=database_url(connection.settings_dict), RECOMMENDATIONS_SOURCE="database",
        MODEL_DIR=str(model_dir),
    ) as server:  # fmt: skip
        deadline = time.monotonic() + MAX_SECONDS

        def client(user_id: int) -> None:
            with httpx.Client(base_url=server.url, headers=bearer(user_id), timeout=10) as http:
                n = 0
                while not stop.is_set() and time.monotonic() < deadline and len(results) < MAX_REQUESTS:
                    n += 1
                    try:
                        response = http.get("/v1/recommendations/movies/", params={"limit": 10, "offset": n % 25})
                        version = response.json().get("model_version") if response.status_code == 200 else None
                        outcome = (response.status_code, version)
                    except httpx.TransportError:
                        outcome = (0, None)
                    with lock:
                        results.append(outcome)

        threads = [threading.Thread(target=client, args=(user_id,)) for user_id in USERS[:CLIENTS]]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        for _ in range(SWAPS):
            existed.add(publish_new_version(model_dir))
            time.sleep(0.4)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    errors = [status for status, _ in results if status != 200]
    seen = {version for _, version in results if version}
    assert results
    assert errors == []
    assert seen <= existed, seen - existed
    assert len(seen) > 1, "the server never picked up a new version"
    record_figure(
        "model_swap_under_load",
        swaps=SWAPS,
        requests=len(results),
        errors=len(errors),
        versions_existed=len(existed),
        versions_served=len(seen),
        unknown_versions=len(seen - existed),
    )
