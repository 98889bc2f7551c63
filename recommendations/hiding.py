"""Hidden items: taken out of circulation by an operator, at once and without retraining.

A hidden item is in no answer: no personal page (model or popularity), no popular, trending, latest or public
list, no similar-items list, not among a bud's items in common and not in the batch export, until it is
un-hidden. The models keep it: it still counts in the histories of the users who had it (a like of it still
says something about their taste), so un-hiding restores every list exactly as it was.

The flag is a ``HiddenItem`` row in the Django database, whichever store holds the catalog (the model says
why). Serving reads a type's hidden ids through the shared cache (``caching.HiddenSlot``, valid for the type's
generation). ``hide_items`` and ``unhide_items`` commit the rows, then bump the type's generation and the buds
generation (``caching.invalidate_hidden``): the hidden set, and every page and list of the type cached with
the old one, stop matching on every worker at once. A request that read the old set before the commit stores
what it computed under the old generation, which no longer matches (``GenerationalBody.store``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from asgiref.sync import sync_to_async
from django.db import transaction

from musicbud.errors import InvalidInput
from recommendations import caching
from recommendations.data import get_interaction_store
from recommendations.data.validation import validate_item_id, validate_item_ids
from recommendations.domain import ContentType
from recommendations.engine import ModelArtifact
from recommendations.errors import InvalidItemId, ItemNotFound
from recommendations.models import HiddenItem

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
# Ids per IN (...) list: far below every database's bound-parameter limit.
_CHUNK = 1_000
MAX_REASON = 200


@dataclass(frozen=True)
class HidingResult:
    content_type: str
    changed: tuple[str, ...]  # hidden (or un-hidden) by this call
    unchanged: tuple[str, ...]  # already hidden (or already visible)
    cache_invalidated: bool  # False: the cache did not answer, cached answers may show the change late


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


# --- reads ----------------------------------------------------------------------------------------------


def stored_hidden_ids(content_type: ContentType) -> list[str]:
    """The type's hidden ids from the database (what batch work outside the request path reads)."""
    return sorted(HiddenItem.objects.filter(content_type=content_type.value).values_list("item_id", flat=True))


async def hidden_ids(content_type: ContentType) -> frozenset[str]:
    """The type's hidden item ids as serving applies them: from the cache, or the database (then cached)."""
    slot = caching.HiddenSlot(content_type.value)
    body, values = await slot.lookup()
    if body is not None:
        return frozenset(json.loads(body))
    ids = await sync_to_async(stored_hidden_ids)(content_type)
    await slot.store(json.dumps(ids).encode(), values)
    return frozenset(ids)


def hidden_entries(content_type: ContentType, item_ids: Sequence[str] | None = None) -> dict[str, HiddenItem]:
    """item id -> its HiddenItem row (who hid it, when, why) for these items, or for every hidden one."""
    rows = HiddenItem.objects.filter(content_type=content_type.value).select_related("hidden_by")
    if item_ids is None:
        return {row.item_id: row for row in rows}
    return {row.item_id: row for chunk in _chunks(item_ids) for row in rows.filter(item_id__in=chunk)}


def model_allowed(artifact: ModelArtifact, allowed: BoolArray | None, hidden: frozenset[str]) -> BoolArray | None:
    """``allowed`` over a model's items (None: all) with the hidden ones taken out (searchsorted, no scan)."""
    if not hidden:
        return allowed
    indices = artifact.item_indices(np.asarray(sorted(hidden), dtype=np.str_))
    mask = np.ones(artifact.n_items, dtype=bool) if allowed is None else allowed.copy()
    mask[indices[indices >= 0]] = False
    return mask


# --- writes ---------------------------------------------------------------------------------------------


def _checked_ids(content_type: ContentType, item_ids: Sequence[str]) -> list[str]:
    return sorted(set(validate_item_ids(content_type, [item_id.strip() for item_id in item_ids])))


def _write_hidden(
    content_type: ContentType, item_ids: list[str], by_user_id: int | None, reason: str
) -> tuple[list[str], list[str]]:
    with transaction.atomic():
        existing = {
            item_id
            for chunk in _chunks(item_ids)
            for item_id in HiddenItem.objects.filter(content_type=content_type.value, item_id__in=chunk)
            .select_for_update()
            .values_list("item_id", flat=True)
        }
        new = [item_id for item_id in item_ids if item_id not in existing]
        # ignore_conflicts: two operators hiding the same item at once both succeed, one row stays.
        rows = [
            HiddenItem(content_type=content_type.value, item_id=item_id, hidden_by_id=by_user_id, reason=reason)
            for item_id in new
        ]
        HiddenItem.objects.bulk_create(
            rows,
            ignore_conflicts=True,
            batch_size=_CHUNK,
        )
    return new, sorted(existing)


def _delete_hidden(content_type: ContentType, item_ids: list[str]) -> tuple[list[str], list[str]]:
    with transaction.atomic():
        rows = HiddenItem.objects.filter(content_type=content_type.value)
        removed = sorted(
            item_id
            for chunk in _chunks(item_ids)
            for item_id in rows.filter(item_id__in=chunk).select_for_update().values_list("item_id", flat=True)
        )
        for chunk in _chunks(removed):
            rows.filter(item_id__in=chunk).delete()
    gone = set(removed)
    return removed, [item_id for item_id in item_ids if item_id not in gone]


async def _missing_from_catalog(content_type: ContentType, item_ids: list[str]) -> list[str]:
    found = await get_interaction_store().acatalog_items(content_type, item_ids)
    return [item_id for item_id in item_ids if item_id not in found]


async def hide_items(
    *, content_type: ContentType, item_ids: Sequence[str], by_user_id: int | None, reason: str = ""
) -> HidingResult:
    """Take catalog items out of every list at once (see the module docstring); idempotent per item.

    Ids the catalog does not have are refused (``ItemNotFound`` naming them) and nothing is hidden: a typo in a
    bulk file must not pass silently. Raises ``InvalidItemId`` for a malformed id, ``GraphUnavailable`` when the
    catalog cannot be read.
    """
    ids = _checked_ids(content_type, item_ids)
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"The reason must be at most {MAX_REASON} characters.", field="reason")
    missing = await _missing_from_catalog(content_type, ids)
    if missing:
        raise ItemNotFound(
            f"{len(missing)} of the ids are not in the {content_type.value} catalog.",
            content_type=content_type.value,
            item_ids=missing[:10],
        )
    changed, unchanged = await sync_to_async(_write_hidden)(content_type, ids, by_user_id, reason)
    invalidated = await caching.invalidate_hidden(content_type.value) if changed else True
    logger.info(
        "hid %d %s items (%d already hidden) by user %s: %s",
        len(changed), content_type.value, len(unchanged), by_user_id, " ".join(changed[:20]),
    )  # fmt: skip
    return HidingResult(content_type.value, tuple(changed), tuple(unchanged), invalidated)


async def unhide_items(*, content_type: ContentType, item_ids: Sequence[str], by_user_id: int | None) -> HidingResult:
    """Put hidden items back into circulation at once; ids that were not hidden are reported, not refused."""
    ids = _checked_ids(content_type, item_ids)
    changed, unchanged = await sync_to_async(_delete_hidden)(content_type, ids)
    invalidated = await caching.invalidate_hidden(content_type.value) if changed else True
    logger.info(
        "un-hid %d %s items (%d were not hidden) by user %s: %s",
        len(changed), content_type.value, len(unchanged), by_user_id, " ".join(changed[:20]),
    )  # fmt: skip
    return HidingResult(content_type.value, tuple(changed), tuple(unchanged), invalidated)


def read_item_ids(content_type: ContentType, lines: Iterable[str]) -> list[str]:
    """Item ids from a file, one per line (blank lines and ``#`` comments skipped); a bad line is an error naming it."""
    ids = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            ids.append(validate_item_id(content_type, text))
        except InvalidItemId as exc:
            raise InvalidItemId(f"line {number}: {exc.message}", line=number) from None
    return ids
