"""The popularity and trending formulas, defined once for every backend.

Backends only count: for each (item, kind) in a time window they return the number of events and the
sum of their timestamps. Both are integers, exact in SQL and in Cypher, so the scores computed here
from them are bit-for-bit the same whichever store the counts came from.

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
items with recent activity are listed.

``now`` defaults to the newest interaction of the content type, not the wall clock, so an imported
dataset (MovieLens ends in 1998) still has a meaningful popular list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..domain import ContentType, InteractionKind, ScoredItem
from .ordering import item_sort_key

DAY_S = 86_400
POPULAR_WINDOW_DAYS = 90
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


@dataclass(frozen=True)
class WindowCount:
    """Events of one kind on one item inside a time window."""

    item_id: str
    kind: int
    count: int
    timestamp_sum: int


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
        weight = KIND_WEIGHTS.get(InteractionKind(c.kind), 0.0)
        # Integer arithmetic up to the one division: exact, whatever integer type the database returned.
        scores[c.item_id] += weight * (c.count - (c.count * window.end - c.timestamp_sum) / window.seconds)
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
        recent_weight[c.item_id] += KIND_WEIGHTS.get(InteractionKind(c.kind), 0.0) * c.count
    baseline_weight: dict[str, float] = defaultdict(float)
    for c in _sorted(baseline, content_type):
        baseline_weight[c.item_id] += KIND_WEIGHTS.get(InteractionKind(c.kind), 0.0) * c.count
    ratio = recent_window.seconds / baseline_window.seconds
    scores = {
        item: (weight + 1.0) / (baseline_weight.get(item, 0.0) * ratio + 1.0)
        for item, weight in recent_weight.items()
        if weight > 0
    }
    return _rank(scores, content_type, limit)


def counted_kinds(allowed: Iterable[InteractionKind]) -> list[InteractionKind]:
    """The kinds a backend has to count for a content type (those with a non-zero weight)."""
    return sorted(kind for kind in allowed if KIND_WEIGHTS.get(kind, 0.0) > 0)
