"""Staff looking at one user as the recommender sees them (the admin's user lookup), and the record of each look.

``find_subject`` resolves what staff typed (a user id or a username) to a user id; a numeric id need not have
an account (imported datasets and MusicBud people bring users without one). ``record_lookup`` stores who looked
at whom and when (``ProfileLookup``) and logs it, the looked-at user named by their privacy reference, never
their id (``privacy.services.reference``), before anything is shown. ``user_profile`` reads, and writes nothing:

- per content type, the user's latest interactions (the data service) and the recommendations they get right
  now, computed by the API's own operation (``recommending.get_recommendations`` with what serves them:
  model version and A/B variant), with score, reason and source (model or popularity);
- their buds (``buds.get_buds``, every type), their A/B variant, their latest events, whether they opted out of
  buds and whether they were forgotten.

A part whose dependency is down (the graph) shows its error; the other parts are still shown.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from analytics.models import RecommendationEvent
from analytics.selectors import recent_user_events
from musicbud.errors import MusicBudError, NotFound
from privacy.models import ProfileLookup
from privacy.services import reference
from recommendations import buds, recommending
from recommendations.data import get_interaction_store
from recommendations.data.validation import validate_user_id
from recommendations.domain import ContentType, InteractionKind
from recommendations.experiments import assign_variant
from recommendations.models import BudOptOut, ForgottenUser

logger = logging.getLogger(__name__)

HISTORY = 15
RECOMMENDATIONS = 10
BUDS = 10
EVENTS = 25
T = TypeVar("T")


class SubjectNotFound(NotFound):
    code = "user_not_found"
    default_message = "No user has this id or username."


@dataclass(frozen=True)
class Subject:
    user_id: int
    account: AbstractBaseUser | None  # None: a user id the recommender knows without an account here


@dataclass(frozen=True)
class HistoryEntry:
    item_id: str
    title: str | None
    kind: str  # "liked", "rated", ...
    value: float | None  # a rating's score, a top-list rank
    at: datetime


@dataclass(frozen=True)
class TypeProfile:
    content_type: str
    history: tuple[HistoryEntry, ...]
    history_total: int
    recommendations: recommending.RecommendationPage | None
    error: str | None  # why the part could not be read (a dependency down)


@dataclass(frozen=True)
class UserProfile:
    user_id: int
    variant: str
    types: tuple[TypeProfile, ...]
    buds: buds.Buds | None
    buds_error: str | None
    events: tuple[RecommendationEvent, ...]
    bud_opt_out: bool
    forgotten_at: datetime | None


def find_subject(query: str) -> Subject:
    """The user staff asked for: digits are a user id (an account or not), anything else an exact username."""
    text = query.strip()
    users = get_user_model().objects
    if text.isdigit():
        user_id = validate_user_id(int(text))
        return Subject(user_id, users.filter(pk=user_id).first())
    account = users.filter(**{get_user_model().USERNAME_FIELD: text}).first() if text else None
    if account is None or account.pk is None:
        raise SubjectNotFound(query=text[:150])
    return Subject(int(account.pk), account)


def record_lookup(*, viewer: AbstractBaseUser, subject_id: int) -> ProfileLookup:
    """Store and log that ``viewer`` looked at ``subject_id``'s profile (before the profile is read)."""
    lookup = ProfileLookup.objects.create(
        viewer_id=viewer.pk, viewer_username=viewer.get_username(), subject_id=subject_id
    )
    logger.info("staff user %s looked at the profile of user ref %s", viewer.pk, reference(subject_id))
    return lookup


async def _history(content_type: ContentType, user_id: int) -> tuple[tuple[HistoryEntry, ...], int]:
    arrays = await get_interaction_store().auser_history(content_type, user_id)
    latest = arrays.timestamps.argsort(kind="stable")[::-1][:HISTORY].tolist()
    ids = [str(arrays.item_ids[i]) for i in latest]
    titles = await recommending.catalog_entries(content_type, sorted(set(ids)))
    entries = []
    for i, item_id in zip(latest, ids, strict=True):
        value = float(arrays.values[i])
        entry = titles.get(item_id)
        entries.append(
            HistoryEntry(
                item_id=item_id,
                title=entry.title if entry else None,
                kind=InteractionKind(int(arrays.kinds[i])).name.lower(),
                value=None if math.isnan(value) else value,  # NaN: the kind has no value
                at=datetime.fromtimestamp(int(arrays.timestamps[i]), tz=UTC),
            )
        )
    return tuple(entries), len(arrays)


async def _or_error(part: Awaitable[T]) -> tuple[T | None, str | None]:
    """A part of the page, or why it could not be read: a dependency down is shown, not a failed page."""
    try:
        return await part, None
    except MusicBudError as exc:
        if exc.status_code < 500:
            raise
        return None, f"{exc.message} ({exc.code})"


async def _type_profile(content_type: ContentType, user_id: int) -> TypeProfile:
    serving = recommending.serving_for(user_id, content_type)
    (history, history_error), (page, page_error) = await asyncio.gather(
        _or_error(_history(content_type, user_id)),
        _or_error(recommending.get_recommendations(serving, user_id=user_id, limit=RECOMMENDATIONS, offset=0)),
    )
    entries, total = history if history is not None else ((), 0)
    return TypeProfile(content_type.value, entries, total, page, history_error or page_error)


def _account_state(user_id: int) -> tuple[list[RecommendationEvent], bool, datetime | None]:
    forgotten = ForgottenUser.objects.filter(user_id=user_id).values_list("forgotten_at", flat=True).first()
    opted_out = BudOptOut.objects.filter(user_id=user_id).exists()
    return recent_user_events(user_id=user_id, limit=EVENTS), opted_out, forgotten


async def user_profile(user_id: int) -> UserProfile:
    """Everything the lookup page shows about one user (see the module docstring); reads only."""
    types, (found_buds, buds_error), (events, opted_out, forgotten) = await asyncio.gather(
        asyncio.gather(*(_type_profile(ct, user_id) for ct in ContentType)),
        _or_error(
            buds.get_buds(user_id=user_id, content_type="all", limit=BUDS, offset=0, models=buds.served_models("all"))
        ),
        sync_to_async(_account_state)(user_id),
    )
    return UserProfile(
        user_id=user_id,
        variant=assign_variant(user_id),
        types=tuple(types),
        buds=found_buds,
        buds_error=buds_error,
        events=tuple(events),
        bud_opt_out=opted_out,
        forgotten_at=forgotten,
    )
