"""A corrupt or partial model folder is refused at load with a clear error; the previous model keeps serving."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recommendations.engine import CorruptModel, ModelStore, load_artifact
from recommendations.engine.artifact import CURRENT, META
from tests.api.conftest import Api
from tests.reliability.support import record_figure

pytestmark = pytest.mark.usefixtures("seeded")


def _drop_meta(folder: Path) -> None:
    (folder / META).unlink()  # a save that died before its last file


def _truncate_array(folder: Path) -> None:
    path = folder / "item_factors.npy"
    path.write_bytes(path.read_bytes()[:100])  # a half-copied file


def _garble_meta(folder: Path) -> None:
    (folder / META).write_text('{"format": 1, "files": ')


def _swap_arrays(folder: Path) -> None:
    # A file of the right name and a size that meta.json agrees with, but the wrong array in it.
    shutil.copy(folder / "user_biases.npy", folder / "item_biases.npy")
    meta = json.loads((folder / META).read_text())
    meta["files"]["item_biases"] = (folder / "item_biases.npy").stat().st_size
    (folder / META).write_text(json.dumps(meta))


def _missing_folder(folder: Path) -> None:
    shutil.rmtree(folder)  # CURRENT names a version that is not there


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "partial-no-meta": (_drop_meta, "has no readable meta.json"),
    "truncated-array": (_truncate_array, "item_factors.npy has 100 bytes"),
    "garbled-meta": (_garble_meta, "has no readable meta.json"),
    "inconsistent-arrays": (_swap_arrays, "item_biases has shape"),
    "missing-folder": (_missing_folder, "has no readable meta.json"),
}


@pytest.fixture
def model_dir(settings: Any, trained_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the trained models: these tests damage it."""
    copy = tmp_path / "models"
    shutil.copytree(trained_model_dir, copy)
    settings.MODEL_DIR = copy
    settings.RECOMMENDATIONS_ENGINE = {"no_components": 16, "epochs": 8, "num_threads": 1}
    return copy


def publish_damaged(model_dir: Path, damage: Callable[[Path], None]) -> Path:
    """A new version folder copied from the current one, damaged, then made current."""
    type_dir = model_dir / "movies"
    current = (type_dir / CURRENT).read_text().strip()
    bad = type_dir / "29990101T000000000000Z-bad000"
    shutil.copytree(type_dir / current, bad)
    damage(bad)
    (type_dir / CURRENT).write_text(f"{bad.name}\n")
    return bad


@pytest.mark.parametrize("case", sorted(DAMAGE))
async def test_a_damaged_model_is_refused_and_the_previous_one_keeps_serving(
    case: str, api: Api, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damage, message = DAMAGE[case]
    before = await api.get("/v1/recommendations/movies/", limit=5)
    assert before.status_code == 200
    served = before.json()["model_version"]

    bad = publish_damaged(model_dir, damage)
    with pytest.raises(CorruptModel, match=message):
        load_artifact(bad)

    statuses, versions = [], set()
    for offset in range(3):
        response = await api.get("/v1/recommendations/movies/", limit=5, offset=offset)
        statuses.append(response.status_code)
        versions.add(response.json()["model_version"])
    status = await api.get("/v1/recommendations/status/")
    assert statuses == [200, 200, 200]
    assert versions == {served}
    assert status.json()["movies"]["model_version"] == served
    refusals = [r for r in caplog.records if "refusing movies model" in r.getMessage()]
    # Refused once and remembered: not re-read and re-logged on every request.
    assert len(refusals) == 1
    assert served in refusals[0].getMessage()

    # A process that never loaded a good model refuses the damaged one with a clear, typed error.
    with pytest.raises(CorruptModel, match=message):
        ModelStore(model_dir).current("movies")
    record_figure("corrupt_model", case=case, requests=len(statuses), errors=statuses.count(500), served=served)


@pytest.mark.usefixtures("no_models")
async def test_a_process_with_only_a_damaged_model_answers_503_with_a_stable_code(
    api: Api, settings: Any, trained_model_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "only-bad"
    shutil.copytree(trained_model_dir, copy)
    settings.MODEL_DIR = copy
    publish_damaged(copy, _drop_meta)
    response = await api.get("/v1/recommendations/movies/")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_corrupt"
