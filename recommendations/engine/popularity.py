"""Popularity and trending: the one definition, used by the engine and by the data service.

The model's popular list (cold users, the evaluation baseline) and the data service's popular list
(served while a type has no model) must be the same list, so both compute it here. The data service
gets per (item, kind) counts and timestamp sums from its database (``recommendations/data/popularity.py``);
the engine computes the same counts from the event arrays it trains on. Counts and sums are integers,
exact everywhere, and the floating-point steps below run in the same order on both paths, so the
scores are bit-for-bit the same. (The model stores them as float32.)

Popularity (recency-weighted, within a window of W seconds ending at ``now``):
    popularity(i) = sum over events e of i with now - W <= t_e <= now of  w(kind_e) * (1 - (now - t_e) / W)
An event counts fully when it happens at ``now`` and fades linearly to nothing at the window's start.
Linear decay is what makes the sum computable from (count, timestamp sum) alone:
    sum_e (1 - (now - t_e) / W) = n - (n * now - sum_e t_e) / W.

Trending (a recent window of r seconds against a baseline of b seconds, both ending at ``now``):
    trending(i) = (R_i + 1) / (B_i * r / b + 1)
with R_i and B_i the kind-weighted event counts in the recent and the baseline windows (B includes R).
It is the recent activity relative to what the item's baseline rate predicts for a window that short;
add-one smoothing keeps one new event on an unknown item from ranking as infinitely trending. Only
items with recent activity trend.

``now`` is the newest interaction of the content type, not the wall clock, so an imported dataset
(MovieLens ends in 1998) or a model trained on an old export still has a meaningful popular list.

Which window is served: each training chooses it on validation among ``popularity_windows_days``
(engine/selection.py), and cold users of a type with a model get that list (the model's metadata
``popularity.window_days``; the data service computes the same list when asked for that window).
While a type has no model yet, the data service serves ``POPULAR_WINDOW_DAYS``: with no training
there is no evidence to choose by, and it is the window selection tries first and keeps on ties
(data without timestamps, where every window is the same list). tests/data/test_backends_agree.py
checks the two sides agree for every window selection can choose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from ..domain import InteractionKind

DAY_S = 86_400
# A year, fading linearly: on MovieLens 100K (time split) this list scores ndcg@10 0.118, against 0.098
# for a 90-day window and 0.112 for the exponential decay (half-life 90 days) used before
# (.venv/bin/python bench/evaluate_real.py, with this constant set to each window in turn).
POPULAR_WINDOW_DAYS = 365
# A century: every event of any real dataset is inside and fades by under 1% a year, i.e. all-time
# counts (with recency breaking ties), in a form the data service's windowed counts express exactly.
ALL_TIME_DAYS = 36_500
TRENDING_RECENT_DAYS = 7
TRENDING_BASELINE_DAYS = 90

# A dislike is not popularity; a rating of any score is engagement, as is watching or saving.
KIND_WEIGHTS: Mapping[InteractionKind, float] = {
    InteractionKind.LIKED: 1.0,
    InteractionKind.TOP_LIST: 1.0,
    InteractionKind.RATED: 1.0,
    InteractionKind.WATCHED: 0.5,
    InteractionKind.WATCHLIST: 0.5,
}

Count = TypeVar("Count", int, npt.NDArray[np.int64])


@dataclass(frozen=True)
class Window:
    """The closed interval [start, end] of unix seconds."""

    start: int
    end: int

    @classmethod
    def ending_at(cls, now: int, days: float) -> Window:
        return cls(start=now - round(days * DAY_S), end=now)

    @property
    def seconds(self) -> int:
        return self.end - self.start


def kind_weight(kind: int) -> float:
    return KIND_WEIGHTS.get(InteractionKind(kind), 0.0)


def decayed_count(count: Count, timestamp_sum: Count, window: Window) -> float | npt.NDArray[np.float64]:
    """The linearly decayed weight of ``count`` events in ``window`` with these timestamps, summed.

    Integer arithmetic up to the one division: exact, whatever integer type the database returned.
    """
    return count - (count * window.end - timestamp_sum) / window.seconds


def trending_score(recent: float | npt.NDArray[np.float64], baseline: float | npt.NDArray[np.float64],
                   recent_window: Window, baseline_window: Window) -> float | npt.NDArray[np.float64]:  # fmt: skip
    return (recent + 1.0) / (baseline * (recent_window.seconds / baseline_window.seconds) + 1.0)


# --- the engine's side: from the event arrays it trains on ------------------------------------------


def _window_sums(
    items: npt.NDArray[np.intp], kinds: npt.NDArray[np.int8], timestamps: npt.NDArray[np.int64],
    n_items: int, window: Window,
) -> dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:  # fmt: skip
    """Kind -> (per-item event count, per-item timestamp sum) inside ``window``, for weighted kinds."""
    inside = (timestamps >= window.start) & (timestamps <= window.end)
    sums = {}
    for kind in sorted(int(k) for k in KIND_WEIGHTS):
        chosen = inside & (kinds == kind)
        counts = np.bincount(items[chosen], minlength=n_items).astype(np.int64)
        stamp_sums = np.zeros(n_items, dtype=np.int64)
        np.add.at(stamp_sums, items[chosen], timestamps[chosen])
        sums[kind] = (counts, stamp_sums)
    return sums


def popularity_scores(
    items: npt.NDArray[np.intp],
    kinds: npt.NDArray[np.int8],
    timestamps: npt.NDArray[np.int64],
    n_items: int,
    *,
    window_days: float = POPULAR_WINDOW_DAYS,
) -> npt.NDArray[np.float32]:
    """Every item's popularity (events: item index, kind, timestamp), summed in kind order like the data service.

    ``window_days`` is the data service's ``popular_items(window_days=...)``: a model trained with the
    window selection chose (metadata ``popularity.window_days``) serves the list the data service
    computes for that window.

    Items with nothing in the window get a tail score ordered by their all-time weighted events, too small
    to overtake any item in the window, so a long list is never arbitrary at its end.
    """
    if timestamps.shape[0] == 0:
        return np.zeros(n_items, dtype=np.float32)
    window = Window.ending_at(int(timestamps.max()), window_days)
    scores = np.zeros(n_items, dtype=np.float64)
    for kind, (counts, stamp_sums) in _window_sums(items, kinds, timestamps, n_items, window).items():
        scores += kind_weight(kind) * decayed_count(counts, stamp_sums, window)
    weight_of_kind = np.zeros(max(int(k) for k in InteractionKind) + 1, dtype=np.float64)
    for kind, weight in KIND_WEIGHTS.items():
        weight_of_kind[int(kind)] = weight
    all_time = np.bincount(items, weights=weight_of_kind[kinds], minlength=n_items)
    inside = scores > 0
    smallest = float(scores[inside].min()) if inside.any() else 1.0
    tail = all_time * (0.5 * smallest / (all_time.max(initial=0.0) + 1.0))
    return np.where(inside, scores, tail).astype(np.float32)


def trending_scores(
    items: npt.NDArray[np.intp], kinds: npt.NDArray[np.int8], timestamps: npt.NDArray[np.int64], n_items: int
) -> npt.NDArray[np.float32]:
    """Every item's trending score; 0 for items without recent activity (they do not trend)."""
    if timestamps.shape[0] == 0:
        return np.zeros(n_items, dtype=np.float32)
    now = int(timestamps.max())
    recent_window = Window.ending_at(now, TRENDING_RECENT_DAYS)
    baseline_window = Window.ending_at(now, TRENDING_BASELINE_DAYS)
    recent = np.zeros(n_items, dtype=np.float64)
    for kind, (counts, _) in _window_sums(items, kinds, timestamps, n_items, recent_window).items():
        recent += kind_weight(kind) * counts
    baseline = np.zeros(n_items, dtype=np.float64)
    for kind, (counts, _) in _window_sums(items, kinds, timestamps, n_items, baseline_window).items():
        baseline += kind_weight(kind) * counts
    scores = trending_score(recent, baseline, recent_window, baseline_window)
    return np.where(recent > 0, scores, 0.0).astype(np.float32)
