"""The one order every backend returns rows in, so that equal data gives equal arrays.

Items are ordered by number: MyAnimeList ids as the integers they are ("9" before "10"), IMDb ids by
the number after "tt" (then by length, so "tt0000001" comes before "tt00000001"). Interactions are
ordered by item, then user, then kind.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from ..domain import ContentType, InteractionArrays
from .arrays import take
from .validation import is_mal_type


def _imdb_key(item_id: str) -> int:
    return int(item_id[2:]) * 16 + len(item_id)


def item_sort_key(content_type: ContentType) -> Callable[[str], int]:
    # Validated MAL ids have no leading zeros, so int() is exact and numeric order is well defined.
    return int if is_mal_type(content_type) else _imdb_key


def sort_item_ids(content_type: ContentType, item_ids: list[str]) -> list[str]:
    return sorted(item_ids, key=item_sort_key(content_type))


def item_ranks(content_type: ContentType, item_ids: npt.NDArray[np.str_]) -> npt.NDArray[np.int64]:
    """``item_sort_key`` of every id, vectorized (a million ids per extraction)."""
    if is_mal_type(content_type):
        return item_ids.astype(np.int64)
    # Read the digits straight from the UTF-32 code units: no Python string per row.
    width = item_ids.dtype.itemsize // 4
    codes = np.ascontiguousarray(item_ids).view(np.uint32).reshape(-1, width)[:, 2:].astype(np.int64)
    number = np.zeros(item_ids.shape[0], dtype=np.int64)
    for column in codes.T:
        present = column != 0  # shorter ids are padded with NUL
        number = np.where(present, number * 10 + (column - ord("0")), number)
    ranks: npt.NDArray[np.int64] = number * 16 + 2 + (codes != 0).sum(axis=1)
    return ranks


def canonical_order(content_type: ContentType, arrays: InteractionArrays) -> InteractionArrays:
    if len(arrays) == 0:
        return arrays
    return take(arrays, np.lexsort((arrays.kinds, arrays.user_ids, item_ranks(content_type, arrays.item_ids))))
