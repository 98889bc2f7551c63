"""The popularity and trending formula (engine/popularity.py) on hand-made events."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from recommendations.domain import InteractionKind
from recommendations.engine.popularity import DAY_S, popularity_scores, trending_scores

NOW = 1_000 * DAY_S
LIKED, WATCHED, DISLIKED = InteractionKind.LIKED, InteractionKind.WATCHED, InteractionKind.DISLIKED


def events(
    rows: Sequence[tuple[int, int, float]],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int8], npt.NDArray[np.int64]]:
    """(item index, kind, age in days) -> the arrays the formula takes."""
    items = np.array([r[0] for r in rows], dtype=np.intp)
    kinds = np.array([r[1] for r in rows], dtype=np.int8)
    return items, kinds, np.array([NOW - int(r[2] * DAY_S) for r in rows], dtype=np.int64)


def test_recent_interactions_count_more_than_old_ones() -> None:
    scores = popularity_scores(*events([(0, LIKED, 0), (1, LIKED, 30), (2, LIKED, 60)]), 3)
    assert scores[0] > scores[1] > scores[2] > 0


def test_an_event_counts_fully_now_and_fades_linearly_over_a_year() -> None:
    scores = popularity_scores(*events([(0, LIKED, 0), (1, LIKED, 182.5), (2, WATCHED, 0), (1, LIKED, 0)]), 3)
    assert scores[0] == 1.0
    assert scores[1] == 1.5  # 1 (now) + 0.5 (half-way through the window)
    assert scores[2] == 0.5  # watching weighs half a like


def test_items_outside_the_window_rank_below_every_item_inside_it() -> None:
    # Item 1 was liked often, but 400 days ago; item 0 once, 360 days ago.
    rows = [(0, LIKED, 360), (1, LIKED, 400), (1, LIKED, 400), (1, LIKED, 400), (2, LIKED, 500), (3, LIKED, 0)]
    scores = popularity_scores(*events(rows), 5)
    assert scores[3] > scores[0] > scores[1] > scores[2] > scores[4] == 0  # all-time likes order the tail


def test_dislikes_do_not_make_an_item_popular() -> None:
    scores = popularity_scores(*events([(0, DISLIKED, 0), (0, DISLIKED, 1), (1, WATCHED, 0)]), 2)
    assert scores[1] > scores[0] == 0


def test_an_item_with_a_recent_burst_is_trending_over_a_steady_one() -> None:
    steady = [(0, LIKED, 8.0 * n) for n in range(10)]  # the trending baseline is 90 days
    burst = [(1, LIKED, 0.5)] * 4 + [(1, LIKED, 60)]
    scores = trending_scores(*events(steady + burst + [(2, LIKED, 30)]), 3)
    assert scores[1] > scores[0] > 0
    assert scores[2] == 0  # nothing in the last 7 days: not trending
