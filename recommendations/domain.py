"""Vocabulary shared by the data service, the engine and the API.

Kept free of Django imports so the engine can be used (and tested) on plain arrays.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


class ContentType(enum.StrEnum):
    MOVIES = "movies"
    MANGA = "manga"
    ANIME = "anime"


class InteractionKind(enum.IntEnum):
    """What a user did with an item. Stored as a small integer in arrays and tables.

    The codes are persisted (ORM rows, artifacts): never renumber them.
    """

    LIKED = 1
    WATCHED = 2
    WATCHLIST = 3
    DISLIKED = 4
    TOP_LIST = 5  # value = rank in the user's top list (1 is the favourite)
    RATED = 6  # value = score on the source's scale (1-10 on MyAnimeList, 1-5 on MovieLens)


@dataclass(frozen=True)
class InteractionArrays:
    """All interactions of one content type, column-wise.

    One row per (user, item, kind) event. ``values`` is NaN where the kind carries no value.
    Item ids are the external ids as strings (IMDb ``tt…`` or MyAnimeList numbers).
    """

    user_ids: npt.NDArray[np.int64]
    item_ids: npt.NDArray[np.str_]
    kinds: npt.NDArray[np.int8]
    values: npt.NDArray[np.float32]
    timestamps: npt.NDArray[np.int64]  # unix seconds, UTC

    def __len__(self) -> int:
        return int(self.user_ids.shape[0])

    @classmethod
    def empty(cls) -> InteractionArrays:
        return cls(
            user_ids=np.empty(0, dtype=np.int64),
            item_ids=np.empty(0, dtype=np.str_),
            kinds=np.empty(0, dtype=np.int8),
            values=np.empty(0, dtype=np.float32),
            timestamps=np.empty(0, dtype=np.int64),
        )

    @classmethod
    def concat(cls, parts: list[InteractionArrays]) -> InteractionArrays:
        if not parts:
            return cls.empty()
        return cls(
            user_ids=np.concatenate([p.user_ids for p in parts]),
            item_ids=np.concatenate([p.item_ids for p in parts]),
            kinds=np.concatenate([p.kinds for p in parts]),
            values=np.concatenate([p.values for p in parts]),
            timestamps=np.concatenate([p.timestamps for p in parts]),
        )


@dataclass(frozen=True)
class CatalogItem:
    item_id: str
    title: str
    genres: tuple[str, ...]
    year: int | None = None  # release year; movies only
    image_url: str | None = None  # a picture of the item (http or https), where the source has one


@dataclass(frozen=True)
class ScoredItem:
    """An item of a ranked list (popular, trending) with the score it was ranked by."""

    item_id: str
    score: float
