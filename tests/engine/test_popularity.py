from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from recommendations.engine.popularity import DAY_S, popularity_scores, trending_scores

NOW = 1_000 * int(DAY_S)


def matrix(rows: Sequence[tuple[int, int, float, float]]) -> tuple[sp.csr_matrix, np.ndarray]:
    """(user, item, weight, age in days) -> seen matrix and aligned timestamps (sorted like CSR)."""
    rows = sorted(rows)  # CSR order, so the timestamps line up with seen.data
    seen = sp.csr_matrix(
        ([r[2] for r in rows], ([r[0] for r in rows], [r[1] for r in rows])), shape=(10, 3), dtype=np.float32
    )
    return seen, np.array([NOW - int(r[3] * DAY_S) for r in rows], dtype=np.int64)


def test_recent_interactions_count_more_than_old_ones() -> None:
    seen, stamps = matrix([(0, 0, 1.0, 0), (1, 1, 1.0, 200), (2, 1, 1.0, 200)])
    scores = popularity_scores(seen, stamps, window_days=365, half_life_days=30)
    assert scores[0] > scores[1] > scores[2]


def test_items_outside_the_window_rank_below_every_item_inside_it() -> None:
    # Item 2's fresh event fixes "now"; item 1 is often liked, but only 500 days ago.
    rows = [(0, 0, 0.25, 300), (1, 1, 1.0, 500), (2, 1, 1.0, 500), (3, 1, 1.0, 500), (4, 2, 1.0, 0)]
    seen, stamps = matrix(rows)
    scores = popularity_scores(seen, stamps, window_days=365, half_life_days=90)
    assert scores[2] > scores[0] > scores[1] > 0  # all-time likes still order the tail


def test_dislikes_and_zero_weights_do_not_make_an_item_popular() -> None:
    seen, stamps = matrix([(0, 0, -1.0, 0), (1, 0, 0.0, 0), (2, 1, 0.5, 0)])
    scores = popularity_scores(seen, stamps, window_days=365, half_life_days=90)
    assert scores[1] > scores[0] == 0


def test_an_item_with_a_recent_burst_is_trending_over_a_steady_one() -> None:
    steady = [(u, 0, 1.0, 10.0 * u) for u in range(10)]
    burst = [(u, 1, 1.0, 0.5) for u in range(4)] + [(5, 1, 1.0, 300)]
    seen, stamps = matrix(steady + burst)
    scores = trending_scores(seen, stamps, recent_days=7, window_days=365)
    assert scores[1] > scores[0]
