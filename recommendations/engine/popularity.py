"""Recency-weighted popularity (the cold-start list and the evaluation baseline) and trending.

Time is measured back from the newest interaction in the data rather than from the wall clock, so a
model trained on an old export still ranks items by what was popular when the export was made.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

DAY_S = 86_400.0


def _positive_columns(
    seen: sp.csr_matrix, seen_timestamps: npt.NDArray[np.int64], now: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    positive = seen.data > 0
    age_days = np.maximum(now - seen_timestamps[positive], 0) / DAY_S
    return seen.indices[positive], seen.data[positive], age_days


def popularity_scores(
    seen: sp.csr_matrix,
    seen_timestamps: npt.NDArray[np.int64],
    *,
    window_days: float,
    half_life_days: float,
) -> npt.NDArray[np.float32]:
    """Sum over users of the interaction weight, halved every ``half_life_days``, within ``window_days``.

    Items with nothing in the window are ordered by their all-time weight through a term too small to
    overtake any in-window item, so the list is never arbitrary at its tail.
    """
    n_items = seen.shape[1]
    if seen.nnz == 0:
        return np.zeros(n_items, dtype=np.float32)
    now = int(seen_timestamps.max())
    cols, weights, age_days = _positive_columns(seen, seen_timestamps, now)
    recent = age_days <= window_days
    decayed = weights[recent] * np.exp2(-age_days[recent] / half_life_days)
    scores = np.bincount(cols[recent], weights=decayed, minlength=n_items)
    all_time = np.bincount(cols, weights=weights, minlength=n_items)
    smallest = float(weights.min(initial=1.0)) * 2.0 ** (-window_days / half_life_days)
    scores += all_time * (0.01 * smallest / (all_time.max(initial=0.0) + 1.0))
    return scores.astype(np.float32)


def trending_scores(
    seen: sp.csr_matrix,
    seen_timestamps: npt.NDArray[np.int64],
    *,
    recent_days: float,
    window_days: float,
) -> npt.NDArray[np.float32]:
    """Recent weight relative to what the item's long-run rate predicts for a window that short.

    Add-one smoothing keeps a single new event on an unknown item from ranking as infinitely trending.
    """
    n_items = seen.shape[1]
    if seen.nnz == 0:
        return np.zeros(n_items, dtype=np.float32)
    now = int(seen_timestamps.max())
    cols, weights, age_days = _positive_columns(seen, seen_timestamps, now)
    recent = age_days <= recent_days
    in_window = age_days <= window_days
    recent_weight = np.bincount(cols[recent], weights=weights[recent], minlength=n_items)
    window_weight = np.bincount(cols[in_window], weights=weights[in_window], minlength=n_items)
    expected_recent = window_weight * (recent_days / window_days)
    return ((recent_weight + 1.0) / (expected_recent + 1.0)).astype(np.float32)
