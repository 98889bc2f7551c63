"""From interaction events to the matrices LightFM trains on.

Events are deduplicated per (user, item): several events on one pair (watched, then liked, then rated)
say one thing about the user's taste, so the pair keeps its strongest weight instead of a sum; a dislike
wins over everything, because the user told us explicitly not to show the item.

Rows and columns are ordered by sorted external id, so an id maps to its index with ``np.searchsorted``
on a (memory-mapped) array and no dictionary has to be built when a model is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..domain import CatalogItem, InteractionArrays, InteractionKind
from .config import EngineConfig
from .errors import InvalidData

# Pair weight that marks an explicit negative in the ``seen`` matrix (weights are otherwise >= 0).
DISLIKED_WEIGHT = np.float32(-1.0)

FloatArray = npt.NDArray[np.float32]


def rating_scale(arrays: InteractionArrays) -> float:
    """The top of the rating scale found in the data (5 for MovieLens, 10 for MyAnimeList); 1.0 if no ratings."""
    rated = arrays.values[(arrays.kinds == InteractionKind.RATED) & np.isfinite(arrays.values)]
    top = float(rated.max()) if rated.size else 0.0
    return top if top > 0 else 1.0


def event_weights(kinds: npt.NDArray[np.int8], values: FloatArray, config: EngineConfig, scale: float) -> FloatArray:
    """Training weight of each event; ``DISLIKED_WEIGHT`` for dislikes, 0 for "seen, but not a positive"."""
    weights = np.zeros(kinds.shape[0], dtype=np.float32)
    weights[kinds == InteractionKind.LIKED] = config.weight_liked
    weights[kinds == InteractionKind.WATCHED] = config.weight_watched
    weights[kinds == InteractionKind.WATCHLIST] = config.weight_watchlist
    weights[kinds == InteractionKind.DISLIKED] = DISLIKED_WEIGHT

    top = kinds == InteractionKind.TOP_LIST
    # A missing or nonsense rank still means "in the top list": treat it as the last meaningful rank.
    ranks = np.where(np.isfinite(values[top]) & (values[top] >= 1), values[top], np.inf)
    weights[top] = config.weight_liked + config.top_list_bonus / ranks

    rated = kinds == InteractionKind.RATED
    fraction = np.clip(np.nan_to_num(values[rated], nan=0.0) / scale, 0.0, 1.0)
    rated_weight = config.weight_rated * fraction**config.rating_exponent
    low = fraction < config.low_rating_fraction
    rated_weight[low] *= config.low_rating_weight
    weights[rated] = rated_weight
    return weights


@dataclass(frozen=True)
class InteractionMatrix:
    """Deduplicated user x item matrices and the id maps of their rows and columns."""

    user_ids: npt.NDArray[np.int64]  # sorted; row i is user user_ids[i]
    item_ids: npt.NDArray[np.str_]  # sorted; column j is item item_ids[j]
    # Every pair the user touched: weight > 0 positive, 0 seen only, DISLIKED_WEIGHT negative.
    seen: sp.csr_matrix
    # Latest event time of each pair, aligned with ``seen.data``.
    seen_timestamps: npt.NDArray[np.int64]
    rating_scale: float

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.user_ids.shape[0]), int(self.item_ids.shape[0]))

    def positives(self) -> sp.coo_matrix:
        """The training matrix: pairs with a positive weight, values = weights (LightFM wants COO)."""
        coo = self.seen.tocoo()
        keep = coo.data > 0
        return sp.coo_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=self.shape, dtype=np.float32)


def build_interaction_matrix(
    arrays: InteractionArrays,
    config: EngineConfig,
    *,
    extra_item_ids: Sequence[str] = (),
    scale: float | None = None,
) -> InteractionMatrix:
    """Deduplicate and weight ``arrays``; ``extra_item_ids`` adds columns without interactions (cold items)."""
    if len(arrays) == 0:
        raise InvalidData("there are no interactions to train on")
    n_events = len(arrays)
    user_ids, rows = np.unique(arrays.user_ids, return_inverse=True)
    # One sort of the (string) ids yields both the column order and each event's column.
    all_items = np.concatenate([arrays.item_ids.astype(np.str_), np.asarray(extra_item_ids, dtype=np.str_)])
    item_ids, item_inverse = np.unique(all_items, return_inverse=True)
    cols = item_inverse[:n_events]
    n_items = item_ids.shape[0]
    scale = rating_scale(arrays) if scale is None else scale
    weights = event_weights(arrays.kinds, arrays.values, config, scale)

    keys = rows.astype(np.int64) * n_items + cols
    order = np.argsort(keys, kind="stable")
    keys, weights, stamps = keys[order], weights[order], arrays.timestamps[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    pair_keys = keys[starts]
    pair_weight = np.maximum.reduceat(weights, starts)
    disliked = np.minimum.reduceat(weights, starts) == DISLIKED_WEIGHT
    pair_weight[disliked] = DISLIKED_WEIGHT
    pair_stamp = np.maximum.reduceat(stamps, starts)

    pair_rows = pair_keys // n_items
    indptr = np.zeros(user_ids.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_rows, minlength=user_ids.shape[0]), out=indptr[1:])
    seen = sp.csr_matrix(
        (pair_weight.astype(np.float32), (pair_keys % n_items).astype(np.int32), indptr),
        shape=(user_ids.shape[0], n_items),
    )
    return InteractionMatrix(
        user_ids=user_ids, item_ids=item_ids, seen=seen, seen_timestamps=pair_stamp, rating_scale=scale
    )


def item_feature_matrix(
    item_ids: npt.NDArray[np.str_], catalog: Sequence[CatalogItem]
) -> tuple[sp.csr_matrix, npt.NDArray[np.str_]]:
    """Identity + genre features per item, each row summing to 1 (LightFM's normalisation).

    Without row normalisation an item with many genres would get a representation with a larger norm
    and so a systematically higher score. Returns the matrix and the names of the genre features
    (feature ``n_items + g`` is genre ``g``; the first ``n_items`` features are the items themselves).
    """
    n_items = item_ids.shape[0]
    genres_of = {item.item_id: item.genres for item in catalog}
    genre_names = np.array(sorted({g for item in catalog for g in item.genres}), dtype=np.str_)
    rows: list[int] = list(range(n_items))
    cols: list[int] = list(range(n_items))
    for row, item_id in enumerate(item_ids.tolist()):
        genres = genres_of.get(item_id, ())
        if genres:
            genre_cols = np.searchsorted(genre_names, np.asarray(genres, dtype=np.str_))
            rows.extend([row] * len(genres))
            cols.extend((n_items + genre_cols).tolist())
    data = np.ones(len(rows), dtype=np.float32)
    features = sp.csr_matrix((data, (rows, cols)), shape=(n_items, n_items + genre_names.shape[0]))
    features.sum_duplicates()
    features.data[:] = 1.0  # a genre listed twice is still one genre
    row_sums = np.asarray(features.sum(axis=1)).ravel()
    features = sp.csr_matrix(sp.diags(1.0 / row_sums) @ features, dtype=np.float32)
    return features, genre_names
