"""Building InteractionArrays from database columns in bulk (one numpy conversion per column)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..domain import InteractionArrays


def arrays_from_columns(
    user_ids: Sequence[int],
    item_ids: Sequence[str],
    kinds: Sequence[int],
    values: Sequence[float | None],
    timestamps: Sequence[int],
) -> InteractionArrays:
    if not user_ids:
        return InteractionArrays.empty()
    return InteractionArrays(
        user_ids=np.asarray(user_ids, dtype=np.int64),
        item_ids=np.asarray(item_ids, dtype=np.str_),
        kinds=np.asarray(kinds, dtype=np.int8),
        # None (no value) becomes NaN.
        values=np.asarray(values, dtype=np.float32),
        timestamps=np.asarray(timestamps, dtype=np.int64),
    )


def arrays_from_rows(rows: Sequence[tuple[int, str, int, float | None, int]]) -> InteractionArrays:
    if not rows:
        return InteractionArrays.empty()
    users, items, kinds, values, timestamps = zip(*rows, strict=True)
    return arrays_from_columns(users, items, kinds, values, timestamps)


def take(arrays: InteractionArrays, index: npt.NDArray[np.intp]) -> InteractionArrays:
    return InteractionArrays(
        user_ids=arrays.user_ids[index],
        item_ids=arrays.item_ids[index],
        kinds=arrays.kinds[index],
        values=arrays.values[index],
        timestamps=arrays.timestamps[index],
    )


def keep_last_per_key(arrays: InteractionArrays) -> InteractionArrays:
    """One row per (user, item, kind), the last one given: what upserting the rows in order leaves behind.

    Done before writing because one INSERT … ON CONFLICT may not touch a row twice (PostgreSQL).
    """
    n = len(arrays)
    if n < 2:
        return arrays
    _, item_codes = np.unique(arrays.item_ids, return_inverse=True)
    # Sort by key, later rows after earlier ones (stable), and keep the last of each run.
    order = np.lexsort((np.arange(n), arrays.kinds, item_codes, arrays.user_ids))
    keys = np.stack([arrays.user_ids[order], item_codes[order], arrays.kinds[order].astype(np.int64)])
    last = np.ones(n, dtype=bool)
    last[:-1] = (keys[:, 1:] != keys[:, :-1]).any(axis=0)
    if last.all():
        return arrays
    return take(arrays, np.sort(order[last]))
