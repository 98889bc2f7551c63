"""Fixtures of the API tests: real users with real JWTs, a seeded store and trained models on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model

from recommendations.data import get_interaction_store
from recommendations.data.loading import write_dataset
from recommendations.data.seeding import SeedSpec, generate_content
from recommendations.domain import ContentType
from recommendations.engine import EngineConfig, save_artifact, train_model
from tests.api.musicbud_backend import musicbud_backend  # noqa: F401  # a fixture of every API test
from tests.conftest import asgi_client, clear_shared_cache

API_SPEC = SeedSpec(
    users=80,
    items={ContentType.MOVIES: 120, ContentType.MANGA: 60, ContentType.ANIME: 90},
    seed=11,
    interactions_per_user=15,
    months=6,
)
# Small and quick: the tests check behaviour, not accuracy.
# LightFM pinned: on the small seeded catalog selection may serve popularity, and these tests are about
# serving a personalised model (selection has its own tests in tests/engine/test_selection.py).
FAST_ENGINE = {"no_components": 16, "epochs": 8, "num_threads": 1, "pinned_models": {"*": "lightfm"}}
SEEDED_USER_ID = 5  # a user with history in API_SPEC
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models of API_SPEC's data for every type, trained once per session with the production code path."""
    model_dir = tmp_path_factory.mktemp("models")
    config = EngineConfig.from_overrides(FAST_ENGINE)
    for ct in ContentType:
        content = generate_content(API_SPEC, ct)
        save_artifact(train_model(content.interactions, content.catalog, config), model_dir, ct.value)
    return model_dir


@pytest.fixture
def models(settings: Any, trained_model_dir: Path) -> Path:
    settings.MODEL_DIR = trained_model_dir
    settings.RECOMMENDATIONS_ENGINE = FAST_ENGINE
    return trained_model_dir


@pytest.fixture
def no_models(settings: Any, tmp_path: Path) -> Path:
    model_dir = tmp_path / "empty-models"
    settings.MODEL_DIR = model_dir
    return model_dir


@pytest.fixture
def seeded(transactional_db: None) -> None:
    """API_SPEC's catalog and interactions in the configured store (the built-in one by default)."""
    store = get_interaction_store()
    store.ensure_schema()
    for ct in ContentType:
        write_dataset(store, generate_content(API_SPEC, ct), progress=False)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_shared_cache()
    yield
    clear_shared_cache()


def make_user(user_id: int, *, staff: bool = False) -> Any:
    return get_user_model().objects.create_user(
        id=user_id, username=f"user{user_id}", password=PASSWORD, is_staff=staff
    )


async def obtain_tokens(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post("/v1/auth/token/", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return dict(response.json())


class Api:
    """An HTTP client of the ASGI application that sends a user's real access token on every request."""

    def __init__(self, client: httpx.AsyncClient, access: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {access}"}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers)

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers)


@pytest.fixture
async def api(transactional_db: None) -> Api:
    """Logged in as the seeded user SEEDED_USER_ID."""
    from asgiref.sync import sync_to_async

    await sync_to_async(make_user)(SEEDED_USER_ID)
    client = asgi_client()
    tokens = await obtain_tokens(client, f"user{SEEDED_USER_ID}")
    return Api(client, tokens["access"])


@pytest.fixture
async def staff_api(transactional_db: None) -> Api:
    from asgiref.sync import sync_to_async

    await sync_to_async(make_user)(900, staff=True)
    client = asgi_client()
    tokens = await obtain_tokens(client, "user900")
    return Api(client, tokens["access"])
