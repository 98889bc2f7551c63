"""Checks at the boundary of the data service: content types, ids, kinds and values.

Both backends call these before touching storage, so they reject exactly the same inputs. Ids are
checked against the format of their content type; anything that passes is stored verbatim (and always
sent to the database as a parameter, never spliced into a query).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt

from ..domain import ContentType, InteractionArrays, InteractionKind
from ..errors import InvalidInteraction, InvalidItemId, InvalidUserId, UnknownContentType

MAX_ITEM_ID_LENGTH = 16
# Bigint columns and Neo4j integers are signed 64-bit.
MAX_USER_ID = 2**63 - 1
# 2000-01-01 .. 2100-01-01 would reject MovieLens (1997); anything after 1970 and before 2100 is plausible.
MIN_TIMESTAMP = 0
MAX_TIMESTAMP = 4_102_444_800

# IMDb ids are "tt" + 7 or more digits; MyAnimeList ids are positive integers (no leading zeros, so the
# decimal string and the integer stored in the graph convert both ways without loss).
_ID_PATTERNS: Mapping[ContentType, re.Pattern[str]] = {
    ContentType.MOVIES: re.compile(r"tt[0-9]{7,10}"),
    ContentType.MANGA: re.compile(r"[1-9][0-9]{0,9}"),
    ContentType.ANIME: re.compile(r"[1-9][0-9]{0,9}"),
}


def item_id_pattern(content_type: ContentType) -> str:
    """The regular expression an id of the type matches whole (the OpenAPI schema's pattern)."""
    return _ID_PATTERNS[content_type].pattern


ALLOWED_KINDS: Mapping[ContentType, frozenset[InteractionKind]] = {
    ContentType.MOVIES: frozenset(
        {
            InteractionKind.LIKED,
            InteractionKind.WATCHED,
            InteractionKind.WATCHLIST,
            InteractionKind.DISLIKED,
            InteractionKind.RATED,
        }
    ),
    # LIKED on manga and anime: a like given in the app (feedback on a recommendation).
    ContentType.MANGA: frozenset(
        {InteractionKind.TOP_LIST, InteractionKind.RATED, InteractionKind.DISLIKED, InteractionKind.LIKED}
    ),
    # WATCHED: MyAnimeList's "watched, not rated" (-1 in the Kaggle export).
    ContentType.ANIME: frozenset(
        {
            InteractionKind.TOP_LIST,
            InteractionKind.RATED,
            InteractionKind.DISLIKED,
            InteractionKind.WATCHED,
            InteractionKind.LIKED,
        }
    ),
}
# Kinds whose value is required; every other kind carries no value.
VALUED_KINDS = frozenset({InteractionKind.TOP_LIST, InteractionKind.RATED})
MAX_RATING = 10.0
MAX_RANK = 10_000.0


def parse_content_type(value: ContentType | str) -> ContentType:
    if isinstance(value, ContentType):
        return value
    try:
        return ContentType(value)
    except ValueError:
        raise UnknownContentType(f"Unknown content type {value!r}.", content_type=str(value)[:64]) from None


def is_mal_type(content_type: ContentType) -> bool:
    """Manga and anime are keyed by MyAnimeList ids, stored as integers in the graph."""
    return content_type is not ContentType.MOVIES


def validate_item_id(content_type: ContentType, item_id: object) -> str:
    if not isinstance(item_id, str) or not item_id:
        raise InvalidItemId("The item id must be a non-empty string.", content_type=content_type.value)
    if len(item_id) > MAX_ITEM_ID_LENGTH:
        raise InvalidItemId(
            f"The item id is longer than {MAX_ITEM_ID_LENGTH} characters.", content_type=content_type.value
        )
    if not _ID_PATTERNS[content_type].fullmatch(item_id):
        expected = "an IMDb id like tt0000001" if content_type is ContentType.MOVIES else "a MyAnimeList number"
        raise InvalidItemId(
            f"{item_id!r} is not {expected}.", content_type=content_type.value, item_id=item_id[:MAX_ITEM_ID_LENGTH]
        )
    return item_id


def validate_item_ids(content_type: ContentType, item_ids: Iterable[object]) -> list[str]:
    return [validate_item_id(content_type, item_id) for item_id in item_ids]


# Longest picture URL kept (MAL's and Spotify's are under 100 characters).
MAX_IMAGE_URL = 1_000
_IMAGE_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+")


def image_url_or_none(value: object) -> str | None:
    """A picture URL as items carry it: an http(s) URL without spaces or control characters, else None.

    What the sources hold is not ours to refuse (MusicBud's importer writes "" for a missing picture), so a value
    that is not such a URL is no picture rather than an error; never a ``javascript:`` or ``data:`` URL, which the
    catalog admin would otherwise put in an ``<img src>``.
    """
    if isinstance(value, str) and len(value) <= MAX_IMAGE_URL and _IMAGE_URL.fullmatch(value):
        return value
    return None


def validate_user_id(user_id: object) -> int:
    # bool is an int subclass; True is not a user.
    if isinstance(user_id, bool) or not isinstance(user_id, int | np.integer) or not 0 < user_id <= MAX_USER_ID:
        raise InvalidUserId(f"{user_id!r} is not a positive 64-bit integer user id.")
    return int(user_id)


def validate_kind(content_type: ContentType, kind: InteractionKind | int) -> InteractionKind:
    """A kind the content type has, as an enum."""
    try:
        kind = InteractionKind(kind)
    except ValueError:
        raise InvalidInteraction(f"Unknown interaction kind {kind!r}.") from None
    if kind not in ALLOWED_KINDS[content_type]:
        raise InvalidInteraction(f"{content_type.value} have no {kind.name} interactions.")
    return kind


def validate_interaction(
    content_type: ContentType, kind: InteractionKind | int, value: float | None, timestamp: int
) -> tuple[InteractionKind, float | None]:
    """One interaction's kind, value and timestamp; returns the kind as an enum and the value as stored."""
    kind = validate_kind(content_type, kind)
    if not MIN_TIMESTAMP <= timestamp <= MAX_TIMESTAMP:
        raise InvalidInteraction(f"Timestamp {timestamp} is out of range.")
    if kind not in VALUED_KINDS:
        if value is not None:
            raise InvalidInteraction(f"{kind.name} carries no value.")
        return kind, None
    if value is None or not math.isfinite(value):
        raise InvalidInteraction(f"{kind.name} needs a value.")
    if kind is InteractionKind.RATED and not 0 < value <= MAX_RATING:
        raise InvalidInteraction(f"A rating must be in (0, {MAX_RATING:g}].")
    if kind is InteractionKind.TOP_LIST and (value != int(value) or not 1 <= value <= MAX_RANK):
        raise InvalidInteraction("A top-list rank must be a whole number from 1.")
    return kind, float(value)


def validate_arrays(content_type: ContentType, arrays: InteractionArrays) -> None:
    """The bulk form of the checks above, vectorized (imports and seeding write millions of rows)."""
    n = len(arrays)
    if not all(a.shape == (n,) for a in (arrays.item_ids, arrays.kinds, arrays.values, arrays.timestamps)):
        raise InvalidInteraction("Interaction arrays have different lengths.")
    if n == 0:
        return
    if arrays.user_ids.min() <= 0:
        raise InvalidUserId("User ids must be positive integers.")
    allowed = np.array(sorted(ALLOWED_KINDS[content_type]), dtype=np.int8)
    bad_kind = ~np.isin(arrays.kinds, allowed)
    if bad_kind.any():
        raise InvalidInteraction(f"{content_type.value} have no interactions of kind {int(arrays.kinds[bad_kind][0])}.")
    if arrays.timestamps.min() < MIN_TIMESTAMP or arrays.timestamps.max() > MAX_TIMESTAMP:
        raise InvalidInteraction("A timestamp is out of range.")
    _check_values(arrays.kinds, arrays.values)
    validate_item_ids(content_type, np.unique(arrays.item_ids).tolist())


def _check_values(kinds: npt.NDArray[np.int8], values: npt.NDArray[np.float32]) -> None:
    finite = np.isfinite(values)
    valued = np.isin(kinds, np.array(sorted(VALUED_KINDS), dtype=np.int8))
    if (finite & ~valued).any():
        raise InvalidInteraction("Only TOP_LIST and RATED interactions carry a value.")
    if (valued & ~finite).any():
        raise InvalidInteraction("TOP_LIST and RATED interactions need a value.")
    rated = values[kinds == InteractionKind.RATED]
    if ((rated <= 0) | (rated > MAX_RATING)).any():
        raise InvalidInteraction(f"A rating must be in (0, {MAX_RATING:g}].")
    ranks = values[kinds == InteractionKind.TOP_LIST]
    if ((ranks < 1) | (ranks > MAX_RANK) | (ranks != np.round(ranks))).any():
        raise InvalidInteraction("A top-list rank must be a whole number from 1.")
