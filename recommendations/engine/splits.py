"""Train/test splits of interaction arrays: by time (per user or one global cut) and at random."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..domain import InteractionArrays


def take(arrays: InteractionArrays, mask: npt.NDArray[np.bool_]) -> InteractionArrays:
    return InteractionArrays(
        user_ids=arrays.user_ids[mask],
        item_ids=arrays.item_ids[mask],
        kinds=arrays.kinds[mask],
        values=arrays.values[mask],
        timestamps=arrays.timestamps[mask],
    )


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be between 0 and 1")


def _split_by_order(
    arrays: InteractionArrays, order_key: npt.NDArray[Any], test_fraction: float
) -> tuple[InteractionArrays, InteractionArrays]:
    _check_fraction(test_fraction)
    order = np.lexsort((np.arange(len(arrays)), order_key, arrays.user_ids))
    users = arrays.user_ids[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    counts = np.diff(np.r_[starts, users.shape[0]])
    position = np.arange(users.shape[0]) - np.repeat(starts, counts)
    n_test = np.floor(counts * test_fraction).astype(np.int64)
    is_test = np.empty(len(arrays), dtype=bool)
    is_test[order] = position >= np.repeat(counts - n_test, counts)
    return take(arrays, ~is_test), take(arrays, is_test)


def time_split(arrays: InteractionArrays, test_fraction: float = 0.2) -> tuple[InteractionArrays, InteractionArrays]:
    """Each user's latest ``test_fraction`` of events (by timestamp) is the test set; the future never leaks."""
    return _split_by_order(arrays, arrays.timestamps, test_fraction)


def global_time_split(
    arrays: InteractionArrays, test_fraction: float = 0.1
) -> tuple[InteractionArrays, InteractionArrays]:
    """The newest ``test_fraction`` of all events (one cut in time, ties by position) is the test set.

    What a deployed model faces: trained on everything up to tonight, judged on what comes next,
    including users who were quiet for months and users who are new.
    """
    _check_fraction(test_fraction)
    order = np.lexsort((np.arange(len(arrays)), arrays.timestamps))
    n_test = round(len(arrays) * test_fraction)
    is_test = np.zeros(len(arrays), dtype=bool)
    is_test[order[len(arrays) - n_test :]] = True
    return take(arrays, ~is_test), take(arrays, is_test)


def random_split(
    arrays: InteractionArrays, test_fraction: float = 0.2, seed: int = 0
) -> tuple[InteractionArrays, InteractionArrays]:
    """A random ``test_fraction`` of each user's events; for data without timestamps."""
    return _split_by_order(arrays, np.random.default_rng(seed).permutation(len(arrays)), test_fraction)
