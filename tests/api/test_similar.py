"""GET /v1/recommendations/<type>/<item_id>/similar/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from recommendations.engine import EngineConfig, save_artifact, train_model
from recommendations.engine.artifact import current_version, load_artifact
from tests.api.conftest import API_SPEC, Api

pytestmark = pytest.mark.usefixtures("seeded", "models")


async def test_similar_items_are_ranked_by_similarity_without_the_item_itself(api: Api) -> None:
    seed_item = (await api.get("/v1/recommendations/movies/", limit=1)).json()["items"][0]["item_id"]
    response = await api.get(f"/v1/recommendations/movies/{seed_item}/similar/", limit=7)
    assert response.status_code == 200
    body = response.json()
    assert body["item"]["item_id"] == seed_item
    assert body["item"]["title"]
    similarities = [item["similarity"] for item in body["items"]]
    assert len(similarities) == 7
    assert similarities == sorted(similarities, reverse=True)
    assert seed_item not in [item["item_id"] for item in body["items"]]
    assert all(-1.0 <= s <= 1.0 for s in similarities)


async def test_an_unknown_item_is_404_with_a_stable_code(api: Api) -> None:
    response = await api.get("/v1/recommendations/anime/999999999/similar/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "item_not_found"


async def test_similar_items_limit_is_validated(api: Api) -> None:
    response = await api.get("/v1/recommendations/anime/1/similar/", limit=1000)
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["details"]


@pytest.fixture
def popularity_served(settings: Any, tmp_path: Path, models: Path) -> Path:
    """Manga served by a trained popularity model (what selection serves when nothing beats it); after ``models``."""
    content = generate_content(API_SPEC, ContentType.MANGA)
    config = EngineConfig.from_overrides({"pinned_models": {"*": "popularity"}})
    save_artifact(train_model(content.interactions, content.catalog, config), tmp_path, ContentType.MANGA.value)
    settings.MODEL_DIR = tmp_path
    return tmp_path


async def test_similar_items_of_a_popularity_served_type_are_ranked_by_co_occurrence(
    api: Api, popularity_served: Path
) -> None:
    version = current_version(popularity_served, "manga")
    assert version is not None
    artifact = load_artifact(popularity_served / "manga" / version)
    assert artifact.metadata["model"] == "popularity"
    x = sp.csr_matrix(artifact.seen.to_csr(artifact.n_items))
    x.data = (x.data > 0).astype(np.float32)
    counts = np.asarray(x.sum(axis=0)).ravel()
    item = str(artifact.item_ids[int(np.argmax(counts))])
    response = await api.get(f"/v1/recommendations/manga/{item}/similar/", limit=5)
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 5
    # The cosine of co-occurrence, computed here from the model's own interactions, highest first.
    co = np.asarray((x.T @ x).todense())
    row = artifact.item_index(item)
    assert row is not None
    cosine = {str(artifact.item_ids[j]): co[row, j] / np.sqrt(counts[row] * counts[j]) for j in np.flatnonzero(co[row])}
    cosine.pop(item)
    expected = sorted(cosine.values(), reverse=True)[:5]
    assert [s["similarity"] for s in items] == pytest.approx(expected, abs=1e-5)
    assert all(s["similarity"] == pytest.approx(cosine[s["item_id"]], abs=1e-5) for s in items)
    assert items[0]["similarity"] > 0


@pytest.mark.usefixtures("popularity_served")
async def test_a_popularity_served_type_says_popularity_on_its_pages_and_its_status(api: Api) -> None:
    page = (await api.get("/v1/recommendations/manga/", limit=10)).json()
    assert page["source"] == "popularity"
    reasons = {item["reason"]["code"] for item in page["items"]}
    assert "because_you_liked" in reasons  # the user's likes explain what goes with them
    status = (await api.get("/v1/recommendations/status/")).json()["manga"]
    assert status["source"] == "popularity"
    assert status["model_version"] == page["model_version"]


@pytest.mark.usefixtures("popularity_served")
async def test_diversity_changes_a_popularity_served_similar_list(api: Api) -> None:
    item = (await api.get("/v1/recommendations/manga/", limit=1)).json()["items"][0]["item_id"]
    plain = (await api.get(f"/v1/recommendations/manga/{item}/similar/", limit=10)).json()["items"]
    diverse = (await api.get(f"/v1/recommendations/manga/{item}/similar/", limit=10, diversity=0.9)).json()["items"]
    assert [s["item_id"] for s in plain] != [s["item_id"] for s in diverse]
