"""Buds: the users whose taste is closest to the caller's, from the served models.

**Similarity, per content type** (each in [0, 1] as used; a user with no positive overlap scores 0):

- *factor models* (LightFM, ALS): the cosine of the two users' embeddings, which is what the model
  learned taste to be. The caller's vector is their trained one while the model's positives equal their
  current history's, otherwise it is folded in from the current history (``serving.fold_in``), exactly as
  their recommendations are; a negative cosine is no match.
- *item-item models* (EASE): they have no user embeddings, so the measure is on the histories themselves:
  the cosine of the two users' weighted positive histories (training's event weights: a like counts more
  than a watchlist entry, a rating by its value), each item also weighted by its inverse user frequency
  ``log(1 + users / users_of_item)`` (Breese et al. 1998: sharing a niche favourite says more than sharing
  a blockbuster), and shrunk by ``c / (c + 3)`` for ``c`` items in common (significance weighting, Herlocker
  et al. 1999: one item in common is weak evidence whatever its cosine). The caller's history is the
  current one from the data service; the others' are the model's (as of its training).

**All types**: ``score = sum_t w_t * s_t`` where ``w_t`` is the caller's share of positive interactions in
type ``t`` among the types with a model (someone who is mostly into anime is matched mostly on anime); a
user absent from a type adds 0 there. The ranking is over the union of each type's ``POOL`` most similar
users.

**Who can be a bud**: an active account that has not opted out (``BudOptOut``), is not the caller, and is not
masked in a model the answer uses (forgotten since that model's data was read: left out of the whole
answer). An opted-out caller is shown nobody. Nothing is returned about a bud but their id, their username,
the score and up to ``REASON_ITEMS`` items the two have in common (what they both like most first; never an item
operators hid, ``recommendations.hiding``).

**Precomputed**: per served model version and process, what scoring reads besides the model (the norms of
the user embeddings; for item-item models the weighted user x item matrix, its transpose and row norms),
built on the first bud request after a model is loaded; pages are cached per user (``caching.BudSlot``).
``bench/product.py`` measures both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth import get_user_model
from django.db import transaction

from musicbud.auth import flags_before_save
from musicbud.cache import CacheUnavailable, log_cache_error
from musicbud.errors import GraphUnavailable, NotFound
from recommendations import caching, forgetting, hiding, recommending
from recommendations.data import get_interaction_store
from recommendations.domain import ContentType, InteractionArrays
from recommendations.engine import History, ModelArtifact, Recommender
from recommendations.engine.artifact import ITEM_ITEM
from recommendations.engine.serving import fold_in
from recommendations.models import BudOptOut, ForgottenUser

logger = logging.getLogger(__name__)

POOL = 2_000
REASON_ITEMS = 3
SHRINKAGE = 3.0
BudType = Literal["all", "movies", "manga", "anime"]
BUD_TYPES: tuple[BudType, ...] = ("all", "movies", "manga", "anime")
Reason = Literal["opted_out", "no_model", "no_history", "no_match"]

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]


# --- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommonItem:
    content_type: str
    item_id: str
    title: str | None
    genres: tuple[str, ...]
    image_url: str | None = None


@dataclass(frozen=True)
class Bud:
    user_id: int
    username: str
    score: float
    rank: int
    common_items: tuple[CommonItem, ...]


@dataclass(frozen=True)
class Buds:
    content_type: str  # "all" or one type
    limit: int
    offset: int
    reason: Reason | None  # why the list is empty (None when it is not)
    model_versions: dict[str, str]  # type -> the served model the scores come from
    weights: dict[str, float]  # type -> its weight in the combined score
    buds: tuple[Bud, ...]


# --- what is precomputed per model version ---------------------------------------------------------------


@dataclass(frozen=True)
class BudIndex:
    """What bud scoring needs from one model version beyond the model itself."""

    norms: FloatArray  # per user: the embedding's length, or the weighted history's (item-item)
    iuf: FloatArray | None = None  # per item: inverse user frequency (item-item)
    histories: sp.csr_matrix | None = None  # users x items, IUF-weighted positive weights (item-item)
    holders: sp.csr_matrix | None = None  # items x users: the same, transposed


def _build_index(artifact: ModelArtifact) -> BudIndex:
    if artifact.kind != ITEM_ITEM:
        norms = np.linalg.norm(np.asarray(artifact.user_factors, dtype=np.float32), axis=1).astype(np.float32)
        return BudIndex(norms=norms)
    # Built from copies: the model's arrays are memory-mapped read-only.
    seen = artifact.seen
    weights = np.asarray(seen.weights, dtype=np.float32)
    indptr = np.asarray(seen.indptr, dtype=np.int64)
    rows = np.repeat(np.arange(artifact.n_users, dtype=np.int64), indptr[1:] - indptr[:-1])
    keep = weights > 0
    positive = sp.csr_matrix(
        (weights[keep], (rows[keep], np.asarray(seen.indices)[keep])), shape=(artifact.n_users, artifact.n_items)
    )
    users_of_item = np.bincount(positive.indices, minlength=artifact.n_items).astype(np.float64)
    iuf = np.log1p(artifact.n_users / np.maximum(users_of_item, 1.0)).astype(np.float32)
    histories = (positive @ sp.diags(iuf)).tocsr().astype(np.float32)
    norms = np.sqrt(np.asarray(histories.multiply(histories).sum(axis=1), dtype=np.float64).ravel())
    return BudIndex(norms=norms.astype(np.float32), iuf=iuf, histories=histories, holders=histories.T.tocsr())


_indexes: dict[str, tuple[str, BudIndex]] = {}
_index_lock = threading.Lock()


def bud_index(content_type: ContentType, artifact: ModelArtifact) -> BudIndex:
    """The index of the served model version (one per type and process; a new version replaces it)."""
    with _index_lock:
        known = _indexes.get(content_type.value)
        if known is not None and known[0] == artifact.version:
            return known[1]
    index = _build_index(artifact)
    with _index_lock:
        _indexes[content_type.value] = (artifact.version, index)
    return index


# --- scoring one type ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeScores:
    """One type's most similar users, and the caller's positives there (for the reasons)."""

    content_type: ContentType
    artifact: ModelArtifact
    user_ids: npt.NDArray[np.int64]
    scores: FloatArray
    positives: IndexArray  # the caller's positive items (model indices)
    positive_weights: FloatArray


def _caller_history(
    artifact: ModelArtifact, history: InteractionArrays | None, user_index: int | None
) -> tuple[IndexArray, FloatArray]:
    """The caller's positives in this model: from the current history, or the model's row without one."""
    recommender = Recommender(artifact)
    if history is not None:
        indices, weights = recommender.weighted_history(
            History(history.item_ids, history.kinds, history.values, history.timestamps)
        )
    elif user_index is not None:
        row, row_weights = artifact.seen.row(user_index)
        indices, weights = row.astype(np.int64), np.asarray(row_weights, dtype=np.float32)
    else:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    keep = weights > 0
    return indices[keep], weights[keep]


def _top(scores: FloatArray, own: int | None) -> IndexArray:
    if own is not None:
        scores[own] = -np.inf
    scores[~(scores > 0)] = -np.inf
    n = min(POOL, int(np.isfinite(scores).sum()))
    if n == 0:
        return np.empty(0, dtype=np.int64)
    return np.argpartition(-scores, n - 1)[:n].astype(np.int64)


def score_type(
    content_type: ContentType,
    artifact: ModelArtifact,
    *,
    user_id: int,
    history: InteractionArrays | None,
    caller_masked: bool,
) -> TypeScores:
    """The caller's ``POOL`` most similar users of one type (CPU: run it off the event loop)."""
    index = bud_index(content_type, artifact)
    user_index = artifact.user_index(user_id)
    own = user_index
    if caller_masked:
        user_index = None  # the model's row is the forgotten data: never used
    positives, weights = _caller_history(artifact, history, user_index)
    empty = TypeScores(content_type, artifact, np.empty(0, dtype=np.int64), np.empty(0, np.float32), positives, weights)
    if positives.shape[0] == 0:
        return empty
    if artifact.kind == ITEM_ITEM:
        assert index.iuf is not None
        assert index.holders is not None
        query = weights * index.iuf[positives]
        rows = index.holders[positives]
        dots = np.asarray(rows.T @ query, dtype=np.float64).ravel()
        common = np.asarray((rows > 0).sum(axis=0), dtype=np.float64).ravel()
        denominator = index.norms.astype(np.float64) * float(np.linalg.norm(query))
        cosine = np.divide(dots, denominator, out=np.zeros_like(dots), where=denominator > 0)
        scores = (cosine * common / (common + SHRINKAGE)).astype(np.float32)
    else:
        trained = user_index is not None and _same(artifact, user_index, positives)
        if trained:
            assert user_index is not None
            vector = np.asarray(artifact.user_factors[user_index], dtype=np.float32)
        else:
            vector = fold_in(artifact.item_factors, positives, weights, artifact.fold_in_length)
        length = float(np.linalg.norm(vector))
        if length == 0.0:
            return empty
        dots = np.asarray(artifact.user_factors @ vector, dtype=np.float32)
        scores = dots / np.maximum(index.norms * length, 1e-12)
    chosen = _top(scores, own)
    return TypeScores(
        content_type, artifact, artifact.user_ids[chosen].astype(np.int64), scores[chosen], positives, weights
    )


def _same(artifact: ModelArtifact, user_index: int, positives: IndexArray) -> bool:
    row, weights = artifact.seen.row(user_index)
    trained = np.sort(row[weights > 0])
    return trained.shape[0] == positives.shape[0] and bool(np.array_equal(trained, np.sort(positives)))


def combine(types: Sequence[TypeScores]) -> tuple[npt.NDArray[np.int64], FloatArray, dict[str, float]]:
    """Users by combined score (highest first, ties by user id), and each type's weight."""
    total = sum(float(t.positive_weights.shape[0]) for t in types)
    weights = {t.content_type.value: (t.positive_weights.shape[0] / total if total else 0.0) for t in types}
    scored = [t for t in types if t.user_ids.shape[0]]
    if not scored:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32), weights
    ids = np.concatenate([t.user_ids for t in scored])
    values = np.concatenate([t.scores.astype(np.float64) * weights[t.content_type.value] for t in scored])
    users, slots = np.unique(ids, return_inverse=True)
    combined = np.zeros(users.shape[0], dtype=np.float64)
    np.add.at(combined, slots, values)
    order = np.lexsort((users, -combined))
    return users[order], combined[order].astype(np.float32), weights


# --- who can be shown ----------------------------------------------------------------------------------


def _caller_state(user_id: int, artifacts: Sequence[ModelArtifact]) -> tuple[bool, set[str]]:
    """(opted out, versions of the models in which the caller's own row is masked). One query each."""
    opted_out = BudOptOut.objects.filter(user_id=user_id).exists()
    masked = {a.version for a in artifacts if forgetting.masked_in(a, [user_id])}
    return opted_out, masked


def _eligible(user_ids: Sequence[int], artifacts: Sequence[ModelArtifact]) -> dict[int, str]:
    """id -> username of the candidates that may be shown (two queries)."""
    users = get_user_model().objects.filter(pk__in=list(user_ids), is_active=True)
    rows = dict(users.exclude(pk__in=BudOptOut.objects.values("user_id")).values_list("pk", "username"))
    if rows and artifacts:
        oldest = min(forgetting.model_data_time(a) for a in artifacts)
        forgotten = ForgottenUser.objects.filter(user_id__in=list(rows), forgotten_at__gt=oldest)
        for masked in forgotten.values_list("user_id", flat=True):
            rows.pop(masked, None)
    return {int(pk): str(name) for pk, name in rows.items()}


def _page(
    ranked: npt.NDArray[np.int64], scores: FloatArray, artifacts: Sequence[ModelArtifact], limit: int, offset: int
) -> list[tuple[int, str, float]]:
    """The eligible users of ranks offset..offset+limit, checked in chunks of the ranking (few queries)."""
    wanted = offset + limit
    chunk = max(2 * wanted, 50)
    shown: list[tuple[int, str, float]] = []
    for start in range(0, ranked.shape[0], chunk):
        ids = ranked[start : start + chunk].tolist()
        eligible = _eligible(ids, artifacts)
        shown += [
            (uid, eligible[uid], float(s))
            for uid, s in zip(ids, scores[start : start + chunk].tolist(), strict=True)
            if uid in eligible
        ]
        if len(shown) >= wanted:
            break
    return shown[offset:wanted]


def _common_items(
    types: Sequence[TypeScores], bud_id: int, hidden: dict[ContentType, frozenset[str]]
) -> list[tuple[ContentType, str]]:
    """Items both like that are not hidden, what they both like most first (product of the two weights)."""
    found: list[tuple[float, str, ContentType, str]] = []
    for t in types:
        row = t.artifact.user_index(bud_id)
        if row is None or t.positives.shape[0] == 0:
            continue
        items, weights = t.artifact.seen.row(row)
        theirs = dict(zip(items[weights > 0].tolist(), weights[weights > 0].tolist(), strict=True))
        for item, weight in zip(t.positives.tolist(), t.positive_weights.tolist(), strict=True):
            if item in theirs:
                item_id = str(t.artifact.item_ids[item])
                if item_id not in hidden[t.content_type]:
                    found.append((-weight * theirs[item], item_id, t.content_type, item_id))
    found.sort(key=lambda entry: entry[:2])
    return [(ct, item_id) for _, _, ct, item_id in found[:REASON_ITEMS]]


# --- the operation -------------------------------------------------------------------------------------


def types_of(content_type: BudType) -> list[ContentType]:
    return list(ContentType) if content_type == "all" else [ContentType(content_type)]


def served_models(content_type: BudType) -> dict[ContentType, ModelArtifact]:
    """The models a bud list of ``content_type`` is computed from (its cache key names their versions)."""
    models = {ct: recommending.current_model(ct) for ct in types_of(content_type)}
    return {ct: artifact for ct, artifact in models.items() if artifact is not None}


async def _history(content_type: ContentType, user_id: int) -> InteractionArrays | None:
    try:
        return await get_interaction_store().auser_history(content_type, user_id)
    except GraphUnavailable as exc:
        logger.warning("history of user %s unavailable (%s): buds from the model's copy", user_id, exc)
        return None


def _empty(
    content_type: BudType, limit: int, offset: int, reason: Reason, models: dict[ContentType, ModelArtifact]
) -> Buds:
    versions = {ct.value: a.version for ct, a in models.items()}
    return Buds(content_type, limit, offset, reason, versions, {}, ())


async def get_buds(
    *, user_id: int, content_type: BudType, limit: int, offset: int, models: dict[ContentType, ModelArtifact]
) -> Buds:
    """The caller's most similar users of one type or all (``models``: ``served_models(content_type)``)."""
    artifacts = list(models.values())
    opted_out, masked = await sync_to_async(_caller_state)(user_id, artifacts)
    if opted_out:
        return _empty(content_type, limit, offset, "opted_out", models)
    if not models:
        return _empty(content_type, limit, offset, "no_model", models)
    histories = await asyncio.gather(*(_history(ct, user_id) for ct in models))
    types = await asyncio.gather(
        *(
            asyncio.to_thread(
                score_type, ct, artifact, user_id=user_id, history=history, caller_masked=artifact.version in masked
            )
            for (ct, artifact), history in zip(models.items(), histories, strict=True)
        )
    )
    if all(t.positives.shape[0] == 0 for t in types):
        return _empty(content_type, limit, offset, "no_history", models)
    ranked, scores, weights = combine(types)
    page = await sync_to_async(_page)(ranked, scores, artifacts, limit, offset)
    hidden = dict(zip(models, await asyncio.gather(*(hiding.hidden_ids(ct) for ct in models)), strict=True))
    commons = await asyncio.to_thread(lambda: {uid: _common_items(types, uid, hidden) for uid, _, _ in page})
    needed: dict[ContentType, set[str]] = {}
    for shared in commons.values():
        for ct, item_id in shared:
            needed.setdefault(ct, set()).add(item_id)
    catalogs = dict(
        zip(
            needed,
            await asyncio.gather(*(recommending.catalog_entries(ct, sorted(ids)) for ct, ids in needed.items())),
            strict=True,
        )
    )
    buds = []
    for rank, (uid, username, score) in enumerate(page, start=offset + 1):
        reasons: list[CommonItem] = []
        for ct, item_id in commons[uid]:
            entry = catalogs.get(ct, {}).get(item_id)
            reasons.append(
                CommonItem(ct.value, item_id, entry.title, tuple(entry.genres), entry.image_url)
                if entry
                else CommonItem(ct.value, item_id, None, ())
            )
        buds.append(Bud(uid, username, round(score, 6), rank, tuple(reasons)))
    return Buds(
        content_type=content_type,
        limit=limit,
        offset=offset,
        reason=None if buds else "no_match",
        model_versions={ct.value: a.version for ct, a in models.items()},
        weights={name: round(weight, 6) for name, weight in weights.items()},
        buds=tuple(buds),
    )


# --- the items two users have in common ----------------------------------------------------------------

COMMON_ITEMS = 100


class BudNotFound(NotFound):
    code = "bud_not_found"
    default_message = "No such bud: unknown, inactive, hidden from buds, or yourself."


def _positives(artifact: ModelArtifact, user_id: int, history: InteractionArrays | None) -> dict[int, float]:
    """model item index -> weight of a user's positive interactions (the weights bud scoring uses)."""
    indices, weights = _caller_history(artifact, history, artifact.user_index(user_id))
    return dict(zip(indices.tolist(), weights.tolist(), strict=True))


async def common_items(
    *, user_id: int, bud_id: int, content_type: ContentType, limit: int = COMMON_ITEMS
) -> tuple[CommonItem, ...]:
    """The items of one type both users like, what both like most first (product of the two weights), never an
    item operators hid; empty without a served model or when the caller opted out. ``BudNotFound`` when the bud
    is one the caller could not be shown (unknown, inactive, opted out, forgotten, the caller)."""
    models = served_models(content_type.value)
    artifacts = list(models.values())
    opted_out, _ = await sync_to_async(_caller_state)(user_id, artifacts)
    eligible = await sync_to_async(_eligible)([bud_id], artifacts)
    if bud_id == user_id or bud_id not in eligible:
        raise BudNotFound()
    artifact = models.get(content_type)
    if opted_out or artifact is None:
        return ()
    mine, theirs = await asyncio.gather(_history(content_type, user_id), _history(content_type, bud_id))
    ours, buds = await asyncio.gather(
        asyncio.to_thread(_positives, artifact, user_id, mine), asyncio.to_thread(_positives, artifact, bud_id, theirs)
    )
    hidden = await hiding.hidden_ids(content_type)
    shared = sorted(
        (-weight * buds[item], str(artifact.item_ids[item]))
        for item, weight in ours.items()
        if item in buds and str(artifact.item_ids[item]) not in hidden
    )
    item_ids = [item_id for _, item_id in shared[:limit]]
    catalog = await recommending.catalog_entries(content_type, item_ids)
    return tuple(
        CommonItem(
            content_type.value,
            item_id,
            catalog[item_id].title if item_id in catalog else None,
            tuple(catalog[item_id].genres) if item_id in catalog else (),
            catalog[item_id].image_url if item_id in catalog else None,
        )
        for item_id in item_ids
    )


# --- visibility ----------------------------------------------------------------------------------------


def _write_visibility(user_id: int, visible: bool) -> None:
    if visible:
        BudOptOut.objects.filter(user_id=user_id).delete()
    else:
        BudOptOut.objects.get_or_create(user_id=user_id)


async def set_bud_visibility(*, user_id: int, visible: bool) -> bool:
    """Opt a user out of buds (hidden from everyone, shown nobody) or back in, at once; returns ``visible``.

    Every cached bud list goes (the buds generation): one that showed this user must not be served again.
    """
    await sync_to_async(_write_visibility)(user_id, visible)
    # Stored; if the cache does not answer, cached bud lists follow when the recorded invalidation is retried.
    with contextlib.suppress(caching.InvalidationPending):
        await caching.invalidate_buds()
    return visible


async def bud_visibility(*, user_id: int) -> bool:
    return not await BudOptOut.objects.filter(user_id=user_id).aexists()


def invalidate_on_account_change(sender: object, instance: object, **kwargs: object) -> None:
    """post_save / post_delete of the user model: a deactivated or deleted account is nobody's bud from now on
    (cache invalidation only; the eligibility query already leaves such accounts out of new lists)."""
    before = flags_before_save(instance)
    deleted = "created" not in kwargs
    if deleted or (before is not None and before["is_active"] != getattr(instance, "is_active", None)):
        transaction.on_commit(_invalidate_buds_now)


def _invalidate_buds_now() -> None:
    try:
        async_to_sync(caching.invalidate_buds)()
    except CacheUnavailable as exc:
        log_cache_error(exc)
