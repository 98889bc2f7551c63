"""Client feedback as interactions: what each kind of event does to the interaction store, validated.

The events API (``analytics``) stores every event; the ones named in ``FEEDBACK`` also change the user's
interactions, through the outbox (``recommendations.outbox``):

| event              | change                         | types                   | needs                  |
| ------------------ | ------------------------------ | ----------------------- | ---------------------- |
| `like`             | record LIKED                   | all                     |                        |
| `unlike`           | remove LIKED                   | all                     |                        |
| `dislike`          | record DISLIKED                | all                     |                        |
| `watched`          | record WATCHED                 | movies, anime           |                        |
| `watchlist_add`    | record WATCHLIST               | movies                  |                        |
| `watchlist_remove` | remove WATCHLIST               | movies                  |                        |
| `rated`            | record RATED (value on a scale)| all                     | `value`, `scale`?      |
| `top_list_add`     | record TOP_LIST (rank)         | manga, anime            | `rank`                 |
| `top_list_remove`  | remove TOP_LIST                | manga, anime            |                        |

The types are the data model's (``data.validation.ALLOWED_KINDS``): a kind a type does not have is refused
(400), never stored as an event that silently changes nothing. A rating is stored on its type's scale (the
scale of the data it is trained with: 1-5 for movies as MovieLens, 1-10 for manga and anime as
MyAnimeList): ``value / scale * type scale``; ``scale`` defaults to the type's own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from recommendations.data.validation import MAX_RANK, validate_interaction, validate_item_id, validate_kind
from recommendations.domain import ContentType, InteractionKind
from recommendations.errors import InvalidInteraction

# event -> (kind, whether it removes the interaction)
FEEDBACK: Mapping[str, tuple[InteractionKind, bool]] = {
    "like": (InteractionKind.LIKED, False),
    "unlike": (InteractionKind.LIKED, True),
    "dislike": (InteractionKind.DISLIKED, False),
    "watched": (InteractionKind.WATCHED, False),
    "watchlist_add": (InteractionKind.WATCHLIST, False),
    "watchlist_remove": (InteractionKind.WATCHLIST, True),
    "rated": (InteractionKind.RATED, False),
    "top_list_add": (InteractionKind.TOP_LIST, False),
    "top_list_remove": (InteractionKind.TOP_LIST, True),
}
RATING_SCALES: Mapping[ContentType, float] = {
    ContentType.MOVIES: 5.0,
    ContentType.MANGA: 10.0,
    ContentType.ANIME: 10.0,
}
MAX_CLIENT_SCALE = 100.0
# The smallest rating taken: a positive value so small that its conversion to the type's scale underflows to
# 0 (5e-324 / 10) would be a rating of nothing; the schema's minimum says the same.
MIN_RATING = 1e-6


# The fields beyond the item an event takes (any other is refused, never ignored).
EVENT_FIELDS: Mapping[str, frozenset[str]] = {
    "rated": frozenset({"value", "scale"}),
    "top_list_add": frozenset({"rank"}),
}


@dataclass(frozen=True)
class InteractionChange:
    """What one accepted event does to the store: record (upsert) or remove one (user, item, kind)."""

    content_type: ContentType
    item_id: str
    kind: InteractionKind
    remove: bool
    value: float | None
    timestamp: int


def _invalid(field: str, message: str) -> InvalidInteraction:
    return InvalidInteraction(message, field=field)


def _rating(content_type: ContentType, value: float | None, scale: float | None) -> float:
    """A rating on its type's scale."""
    if value is None or not math.isfinite(value):
        raise _invalid("value", "A rating needs a value.")
    top = RATING_SCALES[content_type] if scale is None else scale
    if not (math.isfinite(top) and 1.0 <= top <= MAX_CLIENT_SCALE):
        raise _invalid("scale", f"scale must be between 1 and {MAX_CLIENT_SCALE:g}.")
    if not MIN_RATING <= value <= top:
        raise _invalid("value", f"A rating must be at least {MIN_RATING:g} and at most its scale ({top:g}).")
    return value / top * RATING_SCALES[content_type]


def interaction_change(
    *,
    content_type: str,
    item_id: str,
    event: str,
    created_at: datetime,
    value: float | None = None,
    scale: float | None = None,
    rank: int | None = None,
) -> InteractionChange | None:
    """The change an event makes, validated; None for events that only feed analytics (view, click, skip).

    Raises InvalidInteraction whose ``details["field"]`` names the offending event field.
    """
    given = {name for name, field in (("value", value), ("scale", scale), ("rank", rank)) if field is not None}
    extra = sorted(given - EVENT_FIELDS.get(event, frozenset()))
    if extra:
        raise _invalid(extra[0], f"A {event} event has no {extra[0]}.")
    mapped = FEEDBACK.get(event)
    if mapped is None:
        return None
    kind, remove = mapped
    ct = ContentType(content_type)
    validate_item_id(ct, item_id)
    stored: float | None = None
    if kind is InteractionKind.RATED and not remove:
        stored = _rating(ct, value, scale)
    elif kind is InteractionKind.TOP_LIST and not remove:
        if rank is None or not 1 <= rank <= MAX_RANK:
            raise _invalid("rank", f"A top-list entry needs a rank from 1 to {MAX_RANK:g}.")
        stored = float(rank)
    timestamp = int(created_at.timestamp())
    try:
        if remove:
            checked_kind, checked_value = validate_kind(ct, kind), None
        else:
            checked_kind, checked_value = validate_interaction(ct, kind, stored, timestamp)
    except InvalidInteraction as exc:
        # The data model's own refusal: a kind this type does not have (e.g. a watchlist of anime).
        raise _invalid("event", f"{event}: {exc.message}") from None
    return InteractionChange(ct, item_id, checked_kind, remove, checked_value, timestamp)
