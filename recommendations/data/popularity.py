"""Popularity and trending from database counts: the formula itself is ``engine/popularity.py``.

Backends only count: for each (item, kind) in a time window they return the number of events and the
sum of their timestamps. Both are integers, exact in SQL and in Cypher, so the scores computed from
them are bit-for-bit the same whichever store the counts came from, and the same as the served model's
popular list (the engine computes the same counts from the arrays it trains on).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..domain import ContentType, InteractionArrays, InteractionKind, ScoredItem
from ..engine.popularity import (
    KIND_WEIGHTS,
    POPULAR_WINDOW_DAYS,
    TRENDING_BASELINE_DAYS,
    TRENDING_RECENT_DAYS,
    Window,
    decayed_count,
    kind_weight,
    trending_score,
)
from .ordering import item_sort_key

__all__ = [
    "POPULAR_WINDOW_DAYS",
    "TRENDING_BASELINE_DAYS",
    "TRENDING_RECENT_DAYS",
    "ArrayWindows",
    "Window",
    "WindowCount",
    "counted_kinds",
    "popular_from_counts",
    "trending_from_counts",
]


@dataclass(frozen=True)
class WindowCount:
    """Events of one kind on one item inside a time window."""

    item_id: str
    kind: int
    count: int
    timestamp_sum: int


def _sorted(counts: Iterable[WindowCount], content_type: ContentType) -> list[WindowCount]:
    # Fixed summation order: float addition is not associative.
    key = item_sort_key(content_type)
    return sorted(counts, key=lambda c: (key(c.item_id), c.kind))


def _rank(scores: Mapping[str, float], content_type: ContentType, limit: int) -> list[ScoredItem]:
    key = item_sort_key(content_type)
    ranked = sorted(scores.items(), key=lambda pair: (-pair[1], key(pair[0])))
    return [ScoredItem(item_id=item_id, score=score) for item_id, score in ranked[:limit]]


def popular_from_counts(
    content_type: ContentType, counts: Iterable[WindowCount], window: Window, *, limit: int
) -> list[ScoredItem]:
    scores: dict[str, float] = defaultdict(float)
    for c in _sorted(counts, content_type):
        scores[c.item_id] += kind_weight(c.kind) * float(decayed_count(c.count, c.timestamp_sum, window))
    return _rank({item: score for item, score in scores.items() if score > 0}, content_type, limit)


def trending_from_counts(
    content_type: ContentType,
    recent: Iterable[WindowCount],
    baseline: Iterable[WindowCount],
    *,
    recent_window: Window,
    baseline_window: Window,
    limit: int,
) -> list[ScoredItem]:
    recent_weight: dict[str, float] = defaultdict(float)
    for c in _sorted(recent, content_type):
        recent_weight[c.item_id] += kind_weight(c.kind) * c.count
    baseline_weight: dict[str, float] = defaultdict(float)
    for c in _sorted(baseline, content_type):
        baseline_weight[c.item_id] += kind_weight(c.kind) * c.count
    scores = {
        item: float(trending_score(weight, baseline_weight.get(item, 0.0), recent_window, baseline_window))
        for item, weight in recent_weight.items()
        if weight > 0
    }
    return _rank(scores, content_type, limit)


def counted_kinds(allowed: Iterable[InteractionKind]) -> list[InteractionKind]:
    """The kinds a backend has to count for a content type (those with a non-zero weight)."""
    return sorted(kind for kind in allowed if KIND_WEIGHTS.get(kind, 0.0) > 0)


@dataclass(frozen=True)
class ArrayWindows:
    """The counts a database would return, computed from extracted interactions (one extraction per call).

    For a graph whose times live outside it (first-seen times in our database): the counts are the same
    integers, so the scores are computed by the same steps as from a database's counts.
    """

    arrays: InteractionArrays

    def newest(self) -> int | None:
        return int(self.arrays.timestamps.max()) if len(self.arrays) else None

    def counts(self, window: Window, kinds: list[InteractionKind]) -> list[WindowCount]:
        a = self.arrays
        inside = (a.timestamps >= window.start) & (a.timestamps <= window.end)
        inside &= np.isin(a.kinds, np.asarray([int(k) for k in kinds], dtype=np.int8))
        items, item_index = np.unique(a.item_ids[inside], return_inverse=True)
        keys, key_index = np.unique(item_index.astype(np.int64) * 8 + a.kinds[inside], return_inverse=True)
        counts = np.bincount(key_index, minlength=keys.shape[0])
        sums = np.zeros(keys.shape[0], dtype=np.int64)
        np.add.at(sums, key_index, a.timestamps[inside])
        return [
            WindowCount(item_id=str(items[key // 8]), kind=int(key % 8), count=int(n), timestamp_sum=int(total))
            for key, n, total in zip(keys.tolist(), counts.tolist(), sums.tolist(), strict=True)
        ]
