from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recommendations.engine.artifact import (
    CURRENT,
    ModelArtifact,
    ModelStore,
    load_artifact,
    publish_version,
    save_artifact,
)
from recommendations.engine.config import EngineConfig
from recommendations.engine.errors import CorruptModel, ModelNotFound

from .conftest import make_artifact


def artifact(scale: float = 1.0) -> ModelArtifact:
    return make_artifact(
        item_factors=[[scale, 0.0], [0.0, scale], [scale, scale]],
        user_factors={1: [1.0, 0.0], 5: [0.0, 1.0]},
        seen={1: {0: 1.0}, 5: {1: 0.5, 2: -1.0}},
        popularity=[3.0, 2.0, 1.0],
    )


def test_a_saved_model_loads_back_identical_and_memory_mapped(tmp_path: Path) -> None:
    original = artifact()
    folder = save_artifact(original, tmp_path, "movies")
    loaded = load_artifact(folder)
    for name, array in original.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[name], array, err_msg=name)
    assert isinstance(loaded.item_factors, np.memmap)
    assert not loaded.item_factors.flags.writeable
    assert loaded.version == original.version
    assert loaded.metadata["content_type"] == "movies"


def test_saving_switches_the_current_pointer_to_the_new_version(tmp_path: Path) -> None:
    first, second = artifact(), artifact(2.0)
    save_artifact(first, tmp_path, "anime")
    save_artifact(second, tmp_path, "anime")
    assert (tmp_path / "anime" / CURRENT).read_text().strip() == second.version
    assert not [p for p in (tmp_path / "anime").iterdir() if p.name.startswith(".")]


def test_the_store_notices_a_newer_model_without_a_restart(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    save_artifact(artifact(), tmp_path, "movies")
    first = store.current("movies")
    assert store.current("movies") is first  # unchanged pointer: no reload
    newer = artifact(2.0)
    save_artifact(newer, tmp_path, "movies")
    assert store.current("movies").version == newer.version


def test_publishing_a_kept_older_version_switches_the_pointer_back_and_the_store_follows(tmp_path: Path) -> None:
    older, newer = artifact(), artifact(2.0)
    save_artifact(older, tmp_path, "movies")
    save_artifact(newer, tmp_path, "movies")
    store = ModelStore(tmp_path)
    assert store.current("movies").version == newer.version
    publish_version(tmp_path, "movies", older.version)
    assert (tmp_path / "movies" / CURRENT).read_text().strip() == older.version
    assert store.current("movies").version == older.version
    assert store.versions("movies") == sorted([older.version, newer.version])


def test_publishing_a_version_not_kept_or_corrupt_leaves_the_pointer_alone(tmp_path: Path) -> None:
    older, newer = artifact(), artifact(2.0)
    save_artifact(older, tmp_path, "movies")
    save_artifact(newer, tmp_path, "movies")
    with pytest.raises(ModelNotFound):
        publish_version(tmp_path, "movies", "20200101T000000000000Z-000000")
    (tmp_path / "movies" / older.version / "popularity.npy").write_bytes(b"\x93NUMPY")
    with pytest.raises(CorruptModel):
        publish_version(tmp_path, "movies", older.version)
    assert (tmp_path / "movies" / CURRENT).read_text().strip() == newer.version


def test_a_store_without_a_model_raises_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound) as raised:
        ModelStore(tmp_path).current("manga")
    assert raised.value.code == "model_missing"


def corrupt_by_truncation(folder: Path) -> None:
    path = folder / "item_factors.npy"
    path.write_bytes(path.read_bytes()[:-8])


def corrupt_by_missing_meta(folder: Path) -> None:
    (folder / "meta.json").unlink()


def corrupt_by_missing_array(folder: Path) -> None:
    (folder / "seen_indices.npy").unlink()


def corrupt_by_wrong_shape(folder: Path) -> None:
    # Same byte size, different shape: consistent sizes but misaligned ids must still be refused.
    np.save(folder / "item_biases.npy", np.zeros(3, dtype=np.float32).reshape(3, 1))
    meta = json.loads((folder / "meta.json").read_text())
    meta["files"]["item_biases"] = (folder / "item_biases.npy").stat().st_size
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "corrupt", [corrupt_by_truncation, corrupt_by_missing_meta, corrupt_by_missing_array, corrupt_by_wrong_shape]
)
def test_a_partial_or_inconsistent_folder_is_refused(tmp_path: Path, corrupt) -> None:
    folder = save_artifact(artifact(), tmp_path, "movies")
    corrupt(folder)
    with pytest.raises(CorruptModel) as raised:
        load_artifact(folder)
    assert raised.value.code == "model_corrupt"


def test_a_corrupt_new_version_is_refused_and_the_previous_model_still_served(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    good = artifact()
    save_artifact(good, tmp_path, "movies")
    assert store.current("movies").version == good.version
    bad_folder = save_artifact(artifact(2.0), tmp_path, "movies")
    corrupt_by_truncation(bad_folder)
    assert store.current("movies").version == good.version
    assert store.current("movies").version == good.version  # the failure is remembered, not retried


def test_a_fresh_store_refuses_a_corrupt_current_model(tmp_path: Path) -> None:
    corrupt_by_missing_meta(save_artifact(artifact(), tmp_path, "movies"))
    with pytest.raises(CorruptModel):
        ModelStore(tmp_path).current("movies")


def test_an_interrupted_save_is_invisible_to_readers(tmp_path: Path) -> None:
    good = artifact()
    save_artifact(good, tmp_path, "movies")
    # What a crash mid-save leaves behind: a hidden temporary folder and a temporary pointer file.
    leftover = tmp_path / "movies" / f".tmp-{artifact().version}-dead"
    leftover.mkdir()
    (leftover / "user_ids.npy").write_bytes(b"\x93NUMPY")
    (tmp_path / "movies" / ".CURRENT.dead").write_text("garbage")
    store = ModelStore(tmp_path)
    assert store.current("movies").version == good.version
    assert store.versions("movies") == [good.version]


def test_old_versions_are_pruned_keeping_the_newest(tmp_path: Path) -> None:
    saved = [artifact(float(n + 1)) for n in range(5)]
    for item in saved:
        save_artifact(item, tmp_path, "movies", keep=2)
    assert ModelStore(tmp_path).versions("movies") == sorted(a.version for a in saved[-2:])


def test_saved_files_are_not_group_or_world_writable(tmp_path: Path) -> None:
    folder = save_artifact(artifact(), tmp_path, "movies")
    assert all(not (os.stat(p).st_mode & 0o022) for p in folder.iterdir())


def test_a_model_saved_with_since_retired_settings_still_loads_its_config(tmp_path: Path) -> None:
    folder = save_artifact(artifact(), tmp_path, "movies")
    meta = json.loads((folder / "meta.json").read_text())
    meta["config"] |= {"popularity_window_days": 365.0, "popularity_half_life_days": 90.0}
    (folder / "meta.json").write_text(json.dumps(meta))
    assert load_artifact(folder).config.weight_liked == meta["config"]["weight_liked"]


def item_item() -> ModelArtifact:
    from .conftest import make_item_item_artifact

    return make_item_item_artifact(
        neighbours={0: {1: 0.9, 2: 0.5}, 1: {0: 0.8}, 2: {1: 0.3}}, n_items=3, seen={1: {0: 1.0}, 5: {1: 0.5}}
    )


def test_an_item_item_model_saves_and_loads_back_memory_mapped(tmp_path: Path) -> None:
    from recommendations.engine.serving import Recommender

    original = item_item()
    loaded = load_artifact(save_artifact(original, tmp_path, "anime"))
    assert loaded.kind == "item_item"
    assert loaded.neighbours is not None
    assert isinstance(loaded.neighbours.weights, np.memmap)
    for name, array in original.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[name], array, err_msg=name)
    assert Recommender(loaded).recommend(1, k=2) == Recommender(original).recommend(1, k=2)


def test_the_store_hot_reloads_across_model_kinds(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    save_artifact(artifact(), tmp_path, "movies")
    assert store.current("movies").kind == "factors"
    newer = item_item()
    save_artifact(newer, tmp_path, "movies")
    assert store.current("movies").kind == "item_item"
    assert store.current("movies").version == newer.version


def test_an_item_item_model_without_its_neighbour_matrix_is_refused(tmp_path: Path) -> None:
    folder = save_artifact(item_item(), tmp_path, "anime")
    (folder / "neighbour_weights.npy").unlink()
    with pytest.raises(CorruptModel):
        load_artifact(folder)


def as_format_2(folder: Path) -> dict[str, Any]:
    """A saved factor model rewritten as format 2 wrote it: no similar-items arrays."""
    meta = json.loads((folder / "meta.json").read_text())
    for name in ("similar_indptr", "similar_indices", "similar_weights"):
        (folder / f"{name}.npy").unlink()
        del meta["files"][name]
    meta["format"] = 2
    (folder / "meta.json").write_text(json.dumps(meta))
    return dict(meta)


def test_a_format_2_factor_model_still_loads_without_similar_items(tmp_path: Path) -> None:
    folder = save_artifact(artifact(), tmp_path, "movies")
    as_format_2(folder)
    loaded = load_artifact(folder)
    assert loaded.kind == "factors"
    assert loaded.similar is None


def test_a_format_3_factor_model_missing_its_similar_items_is_refused(tmp_path: Path) -> None:
    folder = save_artifact(artifact(), tmp_path, "movies")
    meta = as_format_2(folder)
    meta["format"] = 3
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptModel, match="expected files"):
        load_artifact(folder)


def test_a_format_1_factor_model_still_loads(tmp_path: Path) -> None:
    folder = save_artifact(artifact(), tmp_path, "movies")
    meta = as_format_2(folder)
    (folder / "seen_timestamps.npy").unlink()
    del meta["files"]["seen_timestamps"]
    meta["format"] = 1
    del meta["kind"]
    (folder / "meta.json").write_text(json.dumps(meta))
    loaded = load_artifact(folder)
    assert loaded.kind == "factors"
    assert loaded.seen.timestamps is None


def test_a_model_of_an_unknown_format_is_refused(tmp_path: Path) -> None:
    folder = save_artifact(artifact(), tmp_path, "movies")
    meta = json.loads((folder / "meta.json").read_text())
    meta["format"] = 99
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptModel):
        load_artifact(folder)


def trained(model: str) -> ModelArtifact:
    """A model of one kind trained through the production path (selection pinned to ``model``)."""
    from recommendations.engine.train import train_model

    from .conftest import timed_clusters
    from .test_selection import config

    return train_model(timed_clusters(), [], config(pinned_models={"*": model}))


@pytest.mark.parametrize("model", ["ease", "als", "lightfm"])
def test_a_trained_model_of_either_kind_serves_the_same_lists_after_saving_and_loading(
    tmp_path: Path, model: str
) -> None:
    from recommendations.engine.serving import Recommender

    original = trained(model)
    loaded = load_artifact(save_artifact(original, tmp_path, "anime"))
    assert loaded.kind == ("item_item" if model == "ease" else "factors")
    assert loaded.metadata["selection"] == original.metadata["selection"]
    users = original.user_ids[::17]
    for user_id in users.tolist():
        assert Recommender(loaded).recommend(user_id, k=5) == Recommender(original).recommend(user_id, k=5)
    item = str(original.item_ids[0])
    assert Recommender(loaded).similar_items(item, k=3) == Recommender(original).similar_items(item, k=3)
    np.testing.assert_array_equal(
        Recommender(loaded).recommend_batch(users, k=5).item_indices,
        Recommender(original).recommend_batch(users, k=5).item_indices,
    )


def test_the_store_hot_reloads_trained_models_from_one_kind_to_the_other_and_back(tmp_path: Path) -> None:
    from recommendations.engine.serving import Recommender

    store = ModelStore(tmp_path)
    for model, kind in (("ease", "item_item"), ("als", "factors"), ("ease", "item_item")):
        newer = trained(model)
        save_artifact(newer, tmp_path, "movies")
        served = store.current("movies")
        assert (served.kind, served.version) == (kind, newer.version)
        assert Recommender(served).recommend(0, k=3) == Recommender(newer).recommend(0, k=3)


def test_a_model_saved_with_the_retired_selection_budget_still_loads(tmp_path: Path) -> None:
    folder = save_artifact(artifact(), tmp_path, "movies")
    meta = json.loads((folder / "meta.json").read_text())
    meta["config"]["selection_budget_s"] = 120.0
    del meta["config"]["training_budget_s"]
    (folder / "meta.json").write_text(json.dumps(meta))
    assert load_artifact(folder).config.training_budget_s == EngineConfig().training_budget_s
