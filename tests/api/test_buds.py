"""GET /v1/recommendations/buds/ and POST /v1/recommendations/buds/visibility/ through the real routes.

The expected neighbours are computed here independently (dense numpy over the served model and the store)
from the measures docs/api.md documents, and compared with what the API answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from recommendations.data.seeding import generate_content
from recommendations.domain import ContentType
from recommendations.engine import EngineConfig, ModelStore, save_artifact, train_model
from recommendations.engine.matrix import event_weights
from tests.api.conftest import API_SPEC, FAST_ENGINE, SEEDED_USER_ID, Api, make_user, obtain_tokens
from tests.conftest import asgi_client

pytestmark = pytest.mark.usefixtures("seeded", "accounts")
BUDS = "/v1/recommendations/buds/"
VISIBILITY = "/v1/recommendations/buds/visibility/"


@pytest.fixture
def accounts(transactional_db: None) -> None:
    """An account for every seeded user but the caller (whose account the ``api`` fixture creates)."""
    get_user_model().objects.bulk_create(
        get_user_model()(id=n, username=f"user{n}", password="!") for n in range(1, API_SPEC.users + 1)
        if n != SEEDED_USER_ID
    )  # fmt: skip


@pytest.fixture(scope="module")
def item_item_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """API_SPEC's anime with EASE pinned: an item-item model (no user embeddings)."""
    model_dir = tmp_path_factory.mktemp("ease-models")
    config = EngineConfig.from_overrides({**FAST_ENGINE, "pinned_models": {"*": "ease"}})
    content = generate_content(API_SPEC, ContentType.ANIME)
    save_artifact(train_model(content.interactions, content.catalog, config), model_dir, "anime")
    return model_dir


async def login(user_id: int) -> Api:
    client = asgi_client()
    return Api(client, (await obtain_tokens(client, f"user{user_id}"))["access"])


def factor_neighbours(model_dir: Path, ct: ContentType, user_id: int) -> list[tuple[int, float]]:
    """Every other user by embedding cosine with the caller's trained vector (the seeded history is the
    trained one, so the API must use the trained vector too)."""
    artifact = ModelStore(model_dir).current(ct.value)
    factors = np.asarray(artifact.user_factors, dtype=np.float64)
    me = factors[artifact.user_index(user_id)]
    cosine = factors @ me / (np.linalg.norm(factors, axis=1) * np.linalg.norm(me))
    ranked = sorted(
        ((int(uid), float(c)) for uid, c in zip(artifact.user_ids.tolist(), cosine.tolist(), strict=True)),
        key=lambda pair: (-pair[1], pair[0]),
    )
    return [(uid, c) for uid, c in ranked if uid != user_id and c > 0]


async def test_buds_of_a_factor_model_are_the_accounts_with_the_closest_embeddings(api: Api, models: Path) -> None:
    response = await api.get(BUDS, type="movies", limit=5)
    assert response.status_code == 200, response.json()
    body = response.json()
    expected = factor_neighbours(models, ContentType.MOVIES, SEEDED_USER_ID)[:5]
    assert [bud["user_id"] for bud in body["buds"]] == [uid for uid, _ in expected]
    assert [bud["score"] for bud in body["buds"]] == pytest.approx([c for _, c in expected], abs=1e-5)
    assert [bud["rank"] for bud in body["buds"]] == [1, 2, 3, 4, 5]
    assert body["reason"] is None
    assert body["weights"] == {"movies": 1.0}


@pytest.mark.usefixtures("models")
async def test_a_bud_says_who_and_why_and_nothing_else(api: Api) -> None:
    from recommendations.data import get_interaction_store

    store = get_interaction_store()
    mine = set((await store.auser_history(ContentType.MOVIES, SEEDED_USER_ID)).item_ids.tolist())
    buds = (await api.get(BUDS, type="movies", limit=10)).json()["buds"]
    assert buds
    for bud in buds:
        assert set(bud) == {"user_id", "username", "score", "rank", "common_items"}
        assert bud["username"] == f"user{bud['user_id']}"
        theirs = set((await store.auser_history(ContentType.MOVIES, bud["user_id"])).item_ids.tolist())
        assert len(bud["common_items"]) <= 3
        for item in bud["common_items"]:
            assert item["item_id"] in mine & theirs
            assert item["title"]
            assert item["content_type"] == "movies"
    assert any(bud["common_items"] for bud in buds)


async def test_all_types_is_the_history_share_weighted_sum_of_each_types_score(api: Api, models: Path) -> None:
    from recommendations.data import get_interaction_store

    every = (await api.get(BUDS, type="all", limit=10)).json()
    assert every["content_type"] == "all"
    assert set(every["model_versions"]) == {"movies", "manga", "anime"}
    store = get_interaction_store()
    positives = {}
    for ct in ContentType:
        history = await store.auser_history(ct, SEEDED_USER_ID)
        artifact = ModelStore(models).current(ct.value)
        weights = event_weights(history.kinds, history.values, artifact.config, artifact.rating_scale)
        positives[ct.value] = len(
            {i for i, w in zip(history.item_ids.tolist(), weights.tolist(), strict=True) if w > 0}
        )
    total = sum(positives.values())
    assert every["weights"] == pytest.approx({ct: n / total for ct, n in positives.items()}, abs=1e-6)
    per_type = {ct.value: (await api.get(BUDS, type=ct.value, limit=50)).json()["buds"] for ct in ContentType}
    top = every["buds"][0]
    expected = sum(
        every["weights"][ct] * next((b["score"] for b in buds if b["user_id"] == top["user_id"]), 0.0)
        for ct, buds in per_type.items()
    )
    assert top["score"] == pytest.approx(expected, abs=1e-4)
    assert [b["score"] for b in every["buds"]] == sorted((b["score"] for b in every["buds"]), reverse=True)


async def test_buds_of_an_item_item_model_are_the_closest_weighted_histories(
    api: Api, settings: Any, item_item_model_dir: Path
) -> None:
    settings.MODEL_DIR = item_item_model_dir
    artifact = ModelStore(item_item_model_dir).current("anime")
    assert artifact.kind == "item_item"
    # The documented measure, densely: IUF-weighted positive histories, cosine, shrunk by c / (c + 3).
    seen = artifact.seen.to_csr(artifact.n_items).toarray()
    positive = np.where(seen > 0, seen, 0.0)
    iuf = np.log1p(artifact.n_users / np.maximum((positive > 0).sum(axis=0), 1))
    x = positive * iuf
    me = x[artifact.user_index(SEEDED_USER_ID)]
    cosine = x @ me / np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(me), 1e-12)
    common = (positive > 0).astype(float) @ (me > 0).astype(float)
    score = cosine * common / (common + 3)
    order = sorted(
        (int(u), float(s)) for u, s in zip(artifact.user_ids.tolist(), score.tolist(), strict=True)
        if u != SEEDED_USER_ID and s > 0
    )  # fmt: skip
    expected = sorted(order, key=lambda pair: (-pair[1], pair[0]))[:5]

    body = (await api.get(BUDS, type="anime", limit=5)).json()
    assert [b["user_id"] for b in body["buds"]] == [u for u, _ in expected]
    assert [b["score"] for b in body["buds"]] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert all(b["common_items"] for b in body["buds"])


@pytest.mark.usefixtures("models")
async def test_pages_of_buds_are_slices_of_one_ranking(api: Api) -> None:
    whole = (await api.get(BUDS, limit=10)).json()["buds"]
    first = (await api.get(BUDS, limit=4)).json()["buds"]
    rest = (await api.get(BUDS, limit=6, offset=4)).json()["buds"]
    assert [b["user_id"] for b in first + rest] == [b["user_id"] for b in whole]
    assert [b["rank"] for b in rest] == list(range(5, 11))


@pytest.mark.usefixtures("models")
async def test_opting_out_hides_a_user_from_everyone_at_once_and_shows_them_nobody(api: Api) -> None:
    before = await api.get(BUDS, type="movies", limit=5)
    assert (await api.get(BUDS, type="movies", limit=5)).headers["X-Cache"] == "hit"
    hidden_id = before.json()["buds"][0]["user_id"]
    hidden = await login_as_existing(hidden_id)

    assert (await hidden.get(VISIBILITY)).json() == {"visible": True}
    assert (await hidden.post(VISIBILITY, {"visible": False})).json() == {"visible": False}

    after = (await api.get(BUDS, type="movies", limit=5)).json()["buds"]
    assert hidden_id not in [b["user_id"] for b in after]
    assert [b["user_id"] for b in after][:4] == [b["user_id"] for b in before.json()["buds"]][1:]
    own = (await hidden.get(BUDS)).json()
    assert (own["buds"], own["reason"]) == ([], "opted_out")

    await hidden.post(VISIBILITY, {"visible": True})
    assert (await api.get(BUDS, type="movies", limit=5)).json()["buds"][0]["user_id"] == hidden_id


async def login_as_existing(user_id: int) -> Api:
    user = await get_user_model().objects.aget(pk=user_id)
    user.set_password("correct-horse-battery-staple")
    await sync_to_async(user.save)()
    return await login(user_id)


@pytest.mark.usefixtures("models")
async def test_an_account_deactivated_or_without_an_account_is_nobodys_bud(api: Api) -> None:
    first = (await api.get(BUDS, type="movies", limit=3)).json()["buds"]
    top = await get_user_model().objects.aget(pk=first[0]["user_id"])
    top.is_active = False
    await sync_to_async(top.save)()
    await get_user_model().objects.filter(pk=first[1]["user_id"]).adelete()

    after = await api.get(BUDS, type="movies", limit=3)
    assert after.headers["X-Cache"] == "miss"
    ids = [b["user_id"] for b in after.json()["buds"]]
    assert first[0]["user_id"] not in ids
    assert first[1]["user_id"] not in ids
    assert ids[0] == first[2]["user_id"]


@pytest.mark.usefixtures("models")
async def test_a_user_without_history_gets_an_explicit_empty_answer(transactional_db: None) -> None:
    await sync_to_async(make_user)(7000)  # not in the seeded data
    body = (await (await login(7000)).get(BUDS)).json()
    assert (body["buds"], body["reason"]) == ([], "no_history")


@pytest.mark.usefixtures("no_models")
async def test_without_a_model_the_answer_says_so(api: Api) -> None:
    body = (await api.get(BUDS)).json()
    assert (body["buds"], body["reason"], body["model_versions"]) == ([], "no_model", {})


@pytest.mark.usefixtures("models")
@pytest.mark.parametrize(
    ("params", "field"), [({"type": "books"}, "type"), ({"limit": 0}, "limit"), ({"limit": 51}, "limit"),
                          ({"offset": -1}, "offset")],
)  # fmt: skip
async def test_bad_bud_queries_are_a_400_naming_the_parameter(api: Api, params: dict[str, Any], field: str) -> None:
    response = await api.get(BUDS, **params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert field in response.json()["error"]["details"]


@pytest.mark.parametrize("value", ["sometimes", 0, "false"])
async def test_a_visibility_body_must_say_true_or_false(api: Api, value: object) -> None:
    response = await api.post(VISIBILITY, {"visible": value})
    assert response.status_code == 400
    assert "visible" in response.json()["error"]["details"]
