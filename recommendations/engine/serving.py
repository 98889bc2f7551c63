"""Top-k recommendations, similar items and explanations from a ModelArtifact of either kind.

Factor models: one matrix-vector product plus the item biases, then ``argpartition`` (LightFM's
``predict`` is several times slower for full-catalog top-k and is never used here). Item-item models:
the user's weighted history row times the sparse neighbour matrix, i.e. the sum of the neighbour rows
of the history items, each scaled by the item's weight (optionally faded by age and blended with
popularity, as selection chose); a new like changes that sum exactly.

Ordering is total: by score, ties by item index. With the tie handling in ``top_indices`` a page at
``offset`` is exactly the slice of the full ranking, so paging through one model version never shows
an item twice or skips one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .artifact import ITEM_ITEM, ItemNeighbours, ModelArtifact, UserItems
from .errors import UnknownItem
from .matrix import DISLIKED_WEIGHT, event_weights

logger = logging.getLogger(__name__)

Source = Literal["model", "fold_in", "popularity"]
REASON_POPULAR = "popular"
REASON_BECAUSE_YOU_LIKED = "because_you_liked"

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Extra candidates the exact batch path re-scores beyond k (at least k more): float32 rounding moves a score
# by ~1e-7 relative, far less than the gap between a top-k item and the k + EXACT_MARGIN-th.
EXACT_MARGIN = 8


@dataclass(frozen=True)
class History:
    """A user's current interactions as the data service knows them (may be newer than the model)."""

    item_ids: npt.NDArray[np.str_]
    kinds: npt.NDArray[np.int8]
    values: npt.NDArray[np.float32]  # NaN where the kind carries no value
    # Unix seconds per event; an item-item model that fades old history needs them (None: no fading).
    timestamps: npt.NDArray[np.int64] | None = None

    @classmethod
    def of(
        cls,
        item_ids: Sequence[str],
        kinds: Sequence[int],
        values: Sequence[float] | None = None,
        timestamps: Sequence[int] | None = None,
    ) -> History:
        n = len(item_ids)
        return cls(
            item_ids=np.asarray(item_ids, dtype=np.str_).reshape(n),
            kinds=np.asarray(kinds, dtype=np.int8).reshape(n),
            values=np.full(n, np.nan, dtype=np.float32) if values is None else np.asarray(values, dtype=np.float32),
            timestamps=None if timestamps is None else np.asarray(timestamps, dtype=np.int64).reshape(n),
        )


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float
    reason: str  # REASON_POPULAR or REASON_BECAUSE_YOU_LIKED
    because_item_id: str | None = None  # the history item that contributes most, for "because you liked X"


@dataclass(frozen=True)
class RecommendationList:
    user_id: int
    items: tuple[Recommendation, ...]
    source: Source  # "popularity" is the explicit cold-start fallback, not an error
    model_version: str


@dataclass(frozen=True)
class SimilarItem:
    item_id: str
    similarity: float


@dataclass(frozen=True)
class BatchRecommendations:
    user_ids: npt.NDArray[np.int64]
    item_indices: IndexArray  # (n_users, k) indices into artifact.item_ids, -1 where fewer than k remain
    scores: FloatArray  # (n_users, k)
    from_popularity: npt.NDArray[np.bool_]  # users the model does not know


def top_indices(scores: FloatArray, n: int) -> IndexArray:
    """Indices of the ``n`` best finite scores, by score descending then index ascending.

    Every item tied with the n-th score is taken into the final sort, so the result is a prefix of the
    full ranking whatever ``n`` is (argpartition alone picks among ties arbitrarily).
    """
    n = min(n, scores.shape[0])
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    if n < scores.shape[0]:
        part = np.argpartition(scores, scores.shape[0] - n)[scores.shape[0] - n :]
        candidates = np.flatnonzero(scores >= scores[part].min())
    else:
        candidates = np.arange(scores.shape[0])
    candidates = candidates[np.isfinite(scores[candidates])]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:n].astype(np.int64)


def dedupe_pairs(indices: IndexArray, weights: FloatArray) -> tuple[IndexArray, FloatArray]:
    """One weight per item, as in training: the strongest event, a dislike over anything."""
    indices, weights, _ = dedupe_events(indices, weights, None)
    return indices, weights


def dedupe_events(
    indices: IndexArray, weights: FloatArray, timestamps: npt.NDArray[np.int64] | None
) -> tuple[IndexArray, FloatArray, npt.NDArray[np.int64] | None]:
    """``dedupe_pairs`` that also keeps each pair's latest event time, as the training matrix does."""
    if indices.shape[0] == 0:
        return indices, weights, timestamps
    order = np.argsort(indices, kind="stable")
    indices, weights = indices[order], weights[order]
    starts = np.flatnonzero(np.r_[True, indices[1:] != indices[:-1]])
    best = np.maximum.reduceat(weights, starts)
    best[np.minimum.reduceat(weights, starts) == DISLIKED_WEIGHT] = DISLIKED_WEIGHT
    stamps = None if timestamps is None else np.maximum.reduceat(timestamps[order], starts)
    return indices[starts], best, stamps


def faded(weights: FloatArray, timestamps: npt.NDArray[np.int64] | None, half_life_days: float) -> FloatArray:
    """History weights times 0.5 ** (age / half-life), age in days before the user's own latest event.

    Relative to the user's latest event, not the clock: a user back after a year still has a taste,
    and a stored history gives the same weights today and tomorrow. On ML-100K (global time cut, EASE)
    a 30-day half-life raised ndcg@10 from 0.215 to 0.264; it is chosen on validation per training.
    """
    if half_life_days <= 0 or timestamps is None or weights.shape[0] == 0:
        return weights
    age_days = (timestamps.max() - timestamps).astype(np.float64) / 86_400.0
    out: FloatArray = (weights * np.power(0.5, age_days / half_life_days)).astype(np.float32)
    return out


def standardised(scores: npt.NDArray[np.float32], axis: int = -1) -> npt.NDArray[np.float32]:
    """(scores - mean) / std along ``axis``: puts two models' scores on one scale before blending."""
    mean = scores.mean(axis=axis, keepdims=True, dtype=np.float64)
    std = scores.std(axis=axis, keepdims=True, dtype=np.float64)
    out: FloatArray = ((scores - mean) / np.maximum(std, 1e-12)).astype(np.float32)
    return out


def gather_rows(rows: UserItems, indices: IndexArray, scale: FloatArray | None = None) -> tuple[IndexArray, FloatArray]:
    """The concatenated entries of some CSR rows (each row's weights times ``scale`` of that row)."""
    starts, ends = rows.indptr[indices], rows.indptr[indices + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    columns = np.asarray(rows.indices[positions], dtype=np.int64)
    values = np.asarray(rows.weights[positions], dtype=np.float32)
    if scale is not None:
        values = values * np.repeat(scale, lengths)
    return columns, values


def small_csr(rows: UserItems, indices: IndexArray, n_columns: int, scale: FloatArray | None = None) -> sp.csr_matrix:
    """Some rows of a (memory-mapped) CSR as a new small scipy matrix, without touching the others."""
    columns, values = gather_rows(rows, indices, scale)
    indptr = np.zeros(indices.shape[0] + 1, dtype=np.int64)
    np.cumsum(rows.indptr[indices + 1] - rows.indptr[indices], out=indptr[1:])
    return sp.csr_matrix((values, columns, indptr), shape=(indices.shape[0], n_columns))


def fold_in(item_factors: FloatArray, indices: IndexArray, weights: FloatArray, length: float) -> FloatArray:
    """A user vector for a history the model was not trained on.

    The weighted mean of the history's item embeddings gives the direction of the user's taste; it is
    rescaled to ``length``, the mean length of the trained user vectors, because scores add item
    biases and a short vector would let the biases (popularity) decide. Measured against the trained
    vectors of the same users (ndcg@10, ML-100K by time / anime): 0.195 vs 0.198 and 0.255 vs 0.288;
    the plain mean (0.189 / 0.233) and a ridge solve (0.167 / 0.222) were worse.
    """
    factors = np.asarray(item_factors[indices], dtype=np.float64)
    direction: npt.NDArray[np.float64] = weights.astype(np.float64) @ factors
    norm = float(np.linalg.norm(direction))
    if norm == 0.0:
        return np.zeros(factors.shape[1], dtype=np.float32)
    return (direction * (length / norm)).astype(np.float32)


class Recommender:
    """Serving operations on one artifact. Cheap to build; build one per request or keep one per version."""

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact

    @property
    def item_item(self) -> bool:
        return self.artifact.kind == ITEM_ITEM

    @property
    def popularity_only(self) -> bool:
        """A model selection found no better than popularity: everyone gets the popular list."""
        return self.artifact.metadata.get("model") == "popularity"

    @property
    def factor_blend(self) -> float:
        """A factor model blended with item-item weights (ALS + RP3beta): the item-item scores' weight.

        Scores are z(factor scores) + w * z(history row x neighbours), each standardised per user.
        """
        if self.item_item or self.artifact.neighbours is None:
            return 0.0
        return float(self.artifact.metadata.get("scoring", {}).get("rp3beta_weight", 0.0))

    @property
    def _cooccurrence(self) -> ItemNeighbours | None:
        """The item-kNN of co-occurrence a model without item vectors (popularity) uses for similar
        items, reasons and diversity; None for models that have their own (factors or neighbours)."""
        art = self.artifact
        if self.item_item or art.similar is None or (art.item_factors.shape[1] > 0 and not self.popularity_only):
            return None
        return art.similar

    # --- users -----------------------------------------------------------------------------------

    def recommend(
        self,
        user_id: int,
        *,
        k: int = 10,
        offset: int = 0,
        history: History | None = None,
        exclude: Iterable[str] = (),
        diversity: float = 0.0,
        allowed: BoolArray | None = None,
    ) -> RecommendationList:
        """Top ``k`` after ``offset`` for a user, never an item they interacted with or disliked.

        ``history`` is the user's current history from the data service. When it holds positives the
        model has not seen (a like since the last training), the user's scores are folded in from it
        (exactly, for an item-item model), so a new like changes the list at once. Without any
        positive the list is popularity. ``diversity`` in [0, 1] re-ranks by maximal marginal
        relevance (0 = off). ``allowed`` (one flag per model item) keeps only the flagged items, before
        the ranking is cut into pages, so a filtered page is full whenever enough items pass.
        """
        if k < 0 or offset < 0:
            raise ValueError("k and offset must be >= 0")
        if not 0.0 <= diversity <= 1.0:
            raise ValueError("diversity must be between 0 and 1")
        art = self.artifact
        user_index = art.user_index(user_id)
        indices, weights, stamps = self._history(user_index, history)
        is_positive = weights > 0
        positives = indices[is_positive]
        excluded = np.concatenate([indices, self._known(exclude)])

        source: Source
        contributions: FloatArray | None = None
        if positives.shape[0] == 0 or self.popularity_only:
            source = "popularity"
            scores = np.array(art.popularity, dtype=np.float32)
        else:
            known = user_index is not None and self._same_positives(user_index, positives)
            source = "model" if known else "fold_in"
            if self.item_item:
                contributions = faded(
                    weights[is_positive], None if stamps is None else stamps[is_positive], art.history_half_life_days
                )
                scores = self._item_item_scores(positives, contributions)
            else:
                if known:
                    assert user_index is not None
                    user_vector = np.asarray(art.user_factors[user_index])
                else:
                    user_vector = fold_in(art.item_factors, positives, weights[is_positive], art.fold_in_length)
                scores = art.item_factors @ user_vector + art.item_biases
                if self.factor_blend > 0.0:
                    assert art.neighbours is not None
                    columns, values = gather_rows(art.neighbours, positives, weights[is_positive])
                    item_item = np.bincount(columns, weights=values, minlength=art.n_items).astype(np.float32)
                    scores = standardised(scores) + self.factor_blend * standardised(item_item)
        scores[excluded] = -np.inf
        if allowed is not None:
            scores[~allowed] = -np.inf

        ranked = self.ranked(scores, k=k, offset=offset, diversity=diversity)
        # A popularity model still explains from the user's likes (its co-occurrence neighbourhood).
        explained_by = positives if source != "popularity" or self._cooccurrence is not None else None
        items = self._explain(ranked, scores, explained_by, contributions)
        if source != "model":
            logger.debug("user %s served from %s", user_id, source)
        return RecommendationList(user_id=user_id, items=items, source=source, model_version=art.version)

    def ranked(self, scores: FloatArray, *, k: int, offset: int = 0, diversity: float = 0.0) -> IndexArray:
        """Item indices of ``scores`` from ``offset`` on, ``k`` of them: the full ranking's slice, or with
        ``diversity`` > 0 the MMR re-ranking's (-inf scores are never ranked)."""
        if diversity > 0.0:
            return self._mmr(scores, k + offset, diversity)[offset:]
        return top_indices(scores, k + offset)[offset:]

    def weighted_history(self, history: History) -> tuple[IndexArray, FloatArray]:
        """A history's model items and their weights as training weighs them, one per item (dislikes < 0)."""
        indices, weights, _ = self._history(None, history)
        return indices, weights

    def _history(
        self, user_index: int | None, history: History | None
    ) -> tuple[IndexArray, FloatArray, npt.NDArray[np.int64] | None]:
        """(item index, weight, latest time) of the user's history; the caller's history supersedes the model's."""
        art = self.artifact
        if history is None:
            if user_index is None:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32), None
            idx, w = art.seen.row(user_index)
            stamps = art.seen.row_timestamps(user_index)
            return idx.astype(np.int64), np.asarray(w), None if stamps is None else np.asarray(stamps)
        indices = art.item_indices(history.item_ids)
        known = indices >= 0  # an item the model lacks can be neither scored nor recommended
        weights = event_weights(history.kinds[known], history.values[known], art.config, art.rating_scale)
        stamps = None if history.timestamps is None else history.timestamps[known]
        return dedupe_events(indices[known], weights, stamps)

    def _same_positives(self, user_index: int, positives: IndexArray) -> bool:
        idx, w = self.artifact.seen.row(user_index)
        trained = np.sort(idx[w > 0])
        return trained.shape[0] == positives.shape[0] and bool(np.array_equal(trained, positives))

    def _known(self, item_ids: Iterable[str]) -> IndexArray:
        indices = self.artifact.item_indices(np.asarray(list(item_ids), dtype=np.str_))
        return indices[indices >= 0]

    # --- item-item scoring ------------------------------------------------------------------------

    @cached_property
    def _popularity_prior(self) -> FloatArray:
        """The blend term: standardised log-popularity times the blend weight selection chose."""
        art = self.artifact
        log_popularity = np.log1p(np.maximum(np.asarray(art.popularity, dtype=np.float32), 0.0))
        return (art.popularity_blend * standardised(log_popularity)).astype(np.float32)

    def _blend(self, scores: FloatArray) -> FloatArray:
        """Scores as served: the raw sums, or standardised and blended with popularity."""
        if self.artifact.popularity_blend <= 0.0:
            return scores
        return standardised(scores) + self._popularity_prior

    def _item_item_scores(self, positives: IndexArray, weights: FloatArray) -> FloatArray:
        """The history row times the neighbour matrix: each history item's row, scaled by its weight, summed."""
        art = self.artifact
        assert art.neighbours is not None
        columns, values = gather_rows(art.neighbours, positives, weights)
        scores = np.bincount(columns, weights=values, minlength=art.n_items).astype(np.float32)
        return self._blend(scores)

    def _history_matrix(self, rows: IndexArray) -> sp.csr_matrix:
        """Users' stored positives (faded as the model was chosen with) as a users x items matrix."""
        art = self.artifact
        seen = art.seen
        lengths = seen.indptr[rows + 1] - seen.indptr[rows]
        columns, values = gather_rows(seen, rows)
        half_life = art.history_half_life_days
        if half_life > 0 and seen.timestamps is not None and columns.shape[0]:
            starts = seen.indptr[rows]
            positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(columns.shape[0])
            stamps = np.asarray(seen.timestamps[positions], dtype=np.int64)
            owner = np.repeat(np.arange(rows.shape[0]), lengths)
            positive = values > 0
            latest = np.full(rows.shape[0], np.iinfo(np.int64).min, dtype=np.int64)
            np.maximum.at(latest, owner[positive], stamps[positive])
            age_days = (latest[owner] - stamps).astype(np.float64) / 86_400.0
            values = (values * np.power(0.5, np.maximum(age_days, 0.0) / half_life)).astype(np.float32)
        values = np.where(values > 0, values, 0.0).astype(np.float32)
        indptr = np.zeros(rows.shape[0] + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return sp.csr_matrix((values, columns, indptr), shape=(rows.shape[0], art.n_items))

    @cached_property
    def _neighbour_matrix(self) -> sp.csr_matrix:
        art = self.artifact
        assert art.neighbours is not None
        return art.neighbours.to_csr(art.n_items)

    def _item_vectors(self, items: IndexArray) -> npt.NDArray[np.float64]:
        """Unit-length item representations for diversity: factors, or the rows of the neighbour matrix."""
        art = self.artifact
        cooccurrence = self._cooccurrence
        if cooccurrence is not None:
            # Co-occurrence cosine is already a similarity: the pool's block of it, made symmetric.
            block = np.asarray(small_csr(cooccurrence, items, art.n_items)[:, items].toarray(), dtype=np.float64)
            similarity: npt.NDArray[np.float64] = np.maximum(block, block.T)
            np.fill_diagonal(similarity, 1.0)
            return similarity
        if self.item_item:
            assert art.neighbours is not None
            rows = small_csr(art.neighbours, items, art.n_items)
            norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1), dtype=np.float64).ravel())
            unit = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ rows
            return np.asarray((unit @ unit.T).toarray(), dtype=np.float64)
        vectors = np.asarray(art.item_factors[items], dtype=np.float64)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors @ vectors.T

    def _explain(
        self,
        ranked: IndexArray,
        scores: FloatArray,
        positives: IndexArray | None,
        contributions: FloatArray | None = None,
    ) -> tuple[Recommendation, ...]:
        art = self.artifact
        if positives is None or positives.shape[0] == 0:
            return tuple(
                Recommendation(str(art.item_ids[i]), float(scores[i]), REASON_POPULAR) for i in ranked.tolist()
            )
        cooccurrence = self._cooccurrence
        if cooccurrence is not None:
            # The liked item that co-occurs most with the recommended one explains it; none: it is just popular.
            block = small_csr(cooccurrence, positives, art.n_items)[:, ranked].toarray()
            agreement = np.where(block > 0, block, -np.inf)
            because = positives[np.argmax(agreement, axis=0)] if ranked.shape[0] else ranked
            explained = np.isfinite(agreement.max(axis=0, initial=-np.inf)) if ranked.shape[0] else ranked > 0
            return tuple(
                Recommendation(str(art.item_ids[i]), float(scores[i]), REASON_BECAUSE_YOU_LIKED, str(art.item_ids[b]))
                if e
                else Recommendation(str(art.item_ids[i]), float(scores[i]), REASON_POPULAR)
                for i, b, e in zip(ranked.tolist(), because.tolist(), explained.tolist(), strict=True)
            )
        if self.item_item:
            # The history item that adds the most to the recommended item's score "explains" it.
            assert art.neighbours is not None
            assert contributions is not None
            block = small_csr(art.neighbours, positives, art.n_items, contributions)[:, ranked].toarray()
            agreement = np.where(block != 0, block, -np.inf)
        else:
            # The liked item whose embedding agrees most with the recommended one "explains" it.
            agreement = art.item_factors[positives] @ art.item_factors[ranked].T
        because = positives[np.argmax(agreement, axis=0)] if ranked.shape[0] else ranked
        return tuple(
            Recommendation(str(art.item_ids[i]), float(scores[i]), REASON_BECAUSE_YOU_LIKED, str(art.item_ids[b]))
            for i, b in zip(ranked.tolist(), because.tolist(), strict=True)
        )

    def _mmr(self, scores: FloatArray, n: int, diversity: float) -> IndexArray:
        """Maximal marginal relevance over a candidate pool: trade score for dissimilarity to picks so far."""
        pool = top_indices(scores, max(3 * n, n + 20))
        if pool.shape[0] == 0:
            return pool
        relevance = scores[pool].astype(np.float64)
        spread = relevance.max() - relevance.min()
        relevance = (relevance - relevance.min()) / spread if spread > 0 else np.ones_like(relevance)
        similarity = self._item_vectors(pool)
        chosen: list[int] = []
        max_similarity = np.full(pool.shape[0], -np.inf)
        available = np.ones(pool.shape[0], dtype=bool)
        for _ in range(min(n, pool.shape[0])):
            penalty = np.where(np.isfinite(max_similarity), max_similarity, 0.0)
            value = np.where(available, (1.0 - diversity) * relevance - diversity * penalty, -np.inf)
            pick = int(np.argmax(value))  # first maximum: ties go to the higher-scored item
            chosen.append(pick)
            available[pick] = False
            max_similarity = np.maximum(max_similarity, similarity[pick])
        return pool[np.asarray(chosen, dtype=np.int64)]

    def popular(
        self,
        *,
        k: int = 10,
        offset: int = 0,
        exclude: Iterable[str] = (),
        allowed: BoolArray | None = None,
        diversity: float = 0.0,
    ) -> tuple[Recommendation, ...]:
        scores = np.array(self.artifact.popularity, dtype=np.float32)
        scores[self._known(exclude)] = -np.inf
        if allowed is not None:
            scores[~allowed] = -np.inf
        return self._explain(self.ranked(scores, k=k, offset=offset, diversity=diversity), scores, None)

    def trending(self, *, k: int = 10, offset: int = 0) -> tuple[str, ...]:
        ranked = top_indices(np.asarray(self.artifact.trending, dtype=np.float32), k + offset)[offset:]
        return tuple(str(self.artifact.item_ids[i]) for i in ranked.tolist())

    # --- items -----------------------------------------------------------------------------------

    def similar_items(
        self,
        item_id: str,
        *,
        k: int = 10,
        offset: int = 0,
        allowed: BoolArray | None = None,
        diversity: float = 0.0,
    ) -> tuple[SimilarItem, ...]:
        """Most similar items; an item the model lacks raises UnknownItem.

        Factor models: cosine similarity of the embeddings. Item-item models: the item's neighbour
        row, by weight (how much liking this item adds to the other's score), positive weights only.
        A popularity model: cosine similarity of co-occurrence (its ``similar`` item-kNN; items that
        never co-occur with this one are not similar to it at all). ``allowed`` and ``diversity`` as in
        ``recommend``.
        """
        art = self.artifact
        index = art.item_index(item_id)
        if index is None:
            raise UnknownItem(f"item {item_id!r} is not in model {art.version}")
        cooccurrence = self._cooccurrence
        if self.item_item or cooccurrence is not None:
            table = cooccurrence if cooccurrence is not None else art.neighbours
            assert table is not None
            neighbours, weights = table.row(index)
            scores = np.full(art.n_items, -np.inf, dtype=np.float32)
            positive = weights > 0
            scores[neighbours[positive]] = weights[positive]
        else:
            vector = np.asarray(art.item_factors[index])
            norms = np.maximum(np.asarray(art.item_norms) * max(float(art.item_norms[index]), 1e-12), 1e-12)
            scores = ((art.item_factors @ vector) / norms).astype(np.float32)
        scores[index] = -np.inf
        if allowed is not None:
            scores[~allowed] = -np.inf
        ranked = self.ranked(scores, k=k, offset=offset, diversity=diversity)
        return tuple(SimilarItem(str(art.item_ids[i]), float(scores[i])) for i in ranked.tolist())

    # --- many users at once ---------------------------------------------------------------------

    def score_rows(self, rows: IndexArray) -> FloatArray:
        """Full score rows of known users (row indices) as served, before excluding seen items."""
        art = self.artifact
        if self.popularity_only:
            return np.tile(np.asarray(art.popularity, dtype=np.float32), (rows.shape[0], 1))
        if self.item_item:
            chunk = np.asarray((self._history_matrix(rows) @ self._neighbour_matrix).toarray(), dtype=np.float32)
            if art.popularity_blend > 0.0:
                chunk = standardised(chunk, axis=1) + self._popularity_prior
            return chunk
        factor_scores: FloatArray = art.user_factors[rows] @ art.item_factors.T
        factor_scores += art.item_biases
        if self.factor_blend > 0.0:
            item_item = np.asarray((self._history_matrix(rows) @ self._neighbour_matrix).toarray(), dtype=np.float32)
            factor_scores = standardised(factor_scores, axis=1) + self.factor_blend * standardised(item_item, axis=1)
        return factor_scores

    def recommend_batch(
        self,
        user_ids: npt.NDArray[np.int64],
        *,
        k: int = 10,
        chunk_size: int = 256,
        workers: int | None = None,
        allowed: BoolArray | None = None,
        exact: bool = False,
    ) -> BatchRecommendations:
        """Top-k for many users from their stored histories (matrix-matrix products in chunks).

        Users unknown to the model get popularity. ``allowed`` (one flag per item) keeps only the flagged
        items, for everyone (the export leaves hidden items out). The order is the one ``recommend`` gives a user
        without a fresh history (score, then item index), up to float rounding: a matrix product
        may sum in another order than a matrix-vector product. Chunks run on ``workers`` threads
        (default: one per CPU); numpy releases the GIL in the heavy parts, so this scales even when
        BLAS itself is limited to one thread, as it should be in a server.

        ``exact``: a user's items and scores do not depend on the batch (its size, the chunk, the CPU's BLAS
        kernel): see ``_exact_top_k``. Item-item and popularity scores already are computed row by row.
        """
        art = self.artifact
        user_ids = np.asarray(user_ids, dtype=np.int64)
        rows = art.user_indices(user_ids)
        k = min(k, art.n_items)
        items = np.full((user_ids.shape[0], k), -1, dtype=np.int64)
        scores = np.full((user_ids.shape[0], k), -np.inf, dtype=np.float32)
        known = np.flatnonzero(rows >= 0)
        if self.item_item:
            self._neighbour_matrix  # noqa: B018  (built once, before the threads share it)

        def run(start: int) -> None:
            at = known[start : start + chunk_size]
            chunk = self.score_rows(rows[at])
            self._mask_seen(chunk, rows[at])
            if allowed is not None:
                chunk[:, ~allowed] = -np.inf
            if exact and not (self.item_item or self.popularity_only):
                wide, _ = _top_k_rows(chunk, min(k + max(k, EXACT_MARGIN), art.n_items))
                items[at], scores[at] = self._exact_top_k(rows[at], wide, k)
            else:
                items[at], scores[at] = _top_k_rows(chunk, k)  # disjoint rows: no lock needed

        starts = range(0, known.shape[0], chunk_size)
        n_workers = min(workers or os.cpu_count() or 1, len(starts))
        if n_workers <= 1:
            for start in starts:
                run(start)
        else:
            with ThreadPoolExecutor(max_workers=n_workers) as pool:
                list(pool.map(run, starts))  # list() re-raises a worker's exception here
        cold = np.flatnonzero(rows < 0)
        if cold.shape[0]:
            popularity = np.array(art.popularity, dtype=np.float32)
            if allowed is not None:
                popularity[~allowed] = -np.inf
            popular = top_indices(popularity, k)
            items[cold, : popular.shape[0]] = popular
            scores[cold, : popular.shape[0]] = art.popularity[popular]
        items[~np.isfinite(scores)] = -1
        from_popularity = rows < 0
        if self.popularity_only:
            from_popularity = np.ones(rows.shape[0], dtype=bool)
        return BatchRecommendations(
            user_ids=user_ids, item_indices=items, scores=scores, from_popularity=from_popularity
        )

    def _exact_top_k(self, rows: IndexArray, candidates: IndexArray, k: int) -> tuple[IndexArray, FloatArray]:
        """The ``k`` best of each user's ``candidates`` (-1: none), re-scored so the batch cannot change them.

        A float32 matrix product rounds differently for different batch shapes (the BLAS kernel blocks and
        vectorises the sums by shape and CPU): the same user's score differed in the 6th decimal between an
        export 7 users at a time and one 256 at a time on an AMD EPYC, and that moved ties. Here each candidate's
        score is recomputed alone: the product of two float32 numbers is exact in float64 (24 + 24 significant
        bits < 53), and the products are added one factor at a time in a fixed order, so the result depends on
        nothing but the user's and the item's factors. The candidates come from the float32 scores with a margin
        (``EXACT_MARGIN``) far wider than their rounding error, so the float32 pass cannot drop a true top-k item.
        """
        art = self.artifact
        valid = candidates >= 0
        picked = np.where(valid, candidates, 0)
        users = np.asarray(art.user_factors[rows], dtype=np.float64)
        items = np.asarray(art.item_factors[picked], dtype=np.float64)
        exact = np.asarray(art.item_biases[picked], dtype=np.float64)
        for factor in range(users.shape[1]):
            exact += users[:, factor, None] * items[:, :, factor]
        if self.factor_blend > 0.0:
            exact = self._exact_blend(rows, users, picked, exact)
        scores = exact.astype(np.float32)
        scores[~valid] = -np.inf
        order = np.lexsort((picked, -scores), axis=-1)[:, :k]
        top_items = np.take_along_axis(candidates, order, axis=1)
        top_scores = np.take_along_axis(scores, order, axis=1)
        top_items[~np.isfinite(top_scores)] = -1
        return top_items, top_scores

    @cached_property
    def _factor_moments(self) -> tuple[npt.NDArray[np.float64], ...]:
        """Over all items, once per model: the mean item vector, the mean bias, E[v v^T], E[v b] and E[b^2]."""
        vectors = np.asarray(self.artifact.item_factors, dtype=np.float64)
        biases = np.asarray(self.artifact.item_biases, dtype=np.float64)
        n = vectors.shape[0]
        return (
            vectors.mean(axis=0),
            np.asarray(biases.mean()),
            vectors.T @ vectors / n,
            vectors.T @ biases / n,
            np.asarray(biases @ biases / n),
        )

    def _exact_blend(
        self,
        rows: IndexArray,
        users: npt.NDArray[np.float64],
        picked: IndexArray,
        factor_scores: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """The blend's score of each candidate (z(factor score) + w * z(item-item score), as ``score_rows``), with
        nothing that depends on the batch: the factor scores' mean and variance over all items come from the
        per-model moments (mean = u.v_mean + b_mean; E[x^2] = u'E[vv']u + 2 u.E[vb] + E[b^2]) summed one factor at a
        time in a fixed order, not from a float32 matrix product of the chunk; the item-item row of each user is a
        sparse row product and is standardised alone."""
        mean_vector, mean_bias, second, cross, square = self._factor_moments
        mean = np.full(users.shape[0], float(mean_bias))
        spread = np.zeros_like(users)
        for factor in range(users.shape[1]):
            mean += users[:, factor] * mean_vector[factor]
            spread += users[:, factor, None] * second[None, factor, :]
        moment = np.full(users.shape[0], float(square))
        for factor in range(users.shape[1]):
            moment += users[:, factor] * (spread[:, factor] + 2.0 * cross[factor])
        std = np.sqrt(np.maximum(moment - mean * mean, 0.0))
        z_factor = (factor_scores - mean[:, None]) / np.maximum(std, 1e-12)[:, None]
        item_item = (self._history_matrix(rows) @ self._neighbour_matrix).tocsr()
        z_item = np.empty_like(factor_scores)
        for n in range(rows.shape[0]):
            row = np.asarray(item_item[n].toarray()[0], dtype=np.float32)
            z_item[n] = standardised(row)[picked[n]]
        blended: npt.NDArray[np.float64] = z_factor + self.factor_blend * z_item
        return blended

    def popular_batch(self, user_ids: npt.NDArray[np.int64], *, k: int = 10) -> IndexArray:
        """Popularity top-k per user, excluding each user's seen items (the evaluation baseline)."""
        art = self.artifact
        rows = art.user_indices(np.asarray(user_ids, dtype=np.int64))
        ranking = top_indices(np.asarray(art.popularity, dtype=np.float32), art.n_items)
        out = np.full((rows.shape[0], k), -1, dtype=np.int64)
        for n, row in enumerate(rows.tolist()):
            seen = art.seen.row(row)[0] if row >= 0 else np.empty(0, dtype=np.int32)
            head = ranking[: k + seen.shape[0]]
            picked = head[~np.isin(head, seen)][:k]
            out[n, : picked.shape[0]] = picked
        return out

    def _mask_seen(self, chunk: FloatArray, rows: IndexArray) -> None:
        indptr, indices = self.artifact.seen.indptr, self.artifact.seen.indices
        starts, ends = indptr[rows], indptr[rows + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if total == 0:
            return
        chunk_rows = np.repeat(np.arange(rows.shape[0]), lengths)
        # Positions of every seen entry of these users inside ``indices``, without a Python loop.
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        chunk[chunk_rows, indices[offsets]] = -np.inf


def _top_k_rows(scores: FloatArray, k: int) -> tuple[IndexArray, FloatArray]:
    """Per-row top-k of a score matrix, ordered like ``top_indices`` (score, then index).

    A full ``argpartition`` of every row dominated batch time. Instead the k-th best score among the
    first columns is a lower bound of the row's k-th best; only the few entries at or above it are
    sorted. The bound is exact whatever the column order, it only gets looser; ties are all kept.
    """
    n_rows, n_items = scores.shape
    sample = min(n_items, max(64 * k, 2048))
    bound = np.partition(scores[:, :sample], sample - k, axis=1)[:, sample - k]
    # flatnonzero on the contiguous mask is several times faster than a 2-D nonzero.
    flat = np.flatnonzero(scores >= bound[:, None])
    rows, cols = np.divmod(flat, n_items)
    values = scores.ravel()[flat]
    finite = np.isfinite(values)
    rows, cols, values = rows[finite], cols[finite], values[finite]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    rank = np.arange(rows.shape[0]) - np.searchsorted(rows, np.arange(n_rows))[rows]
    take = rank < k
    items = np.full((n_rows, k), -1, dtype=np.int64)
    top_scores = np.full((n_rows, k), -np.inf, dtype=np.float32)
    items[rows[take], rank[take]] = cols[take]
    top_scores[rows[take], rank[take]] = values[take]
    return items, top_scores
