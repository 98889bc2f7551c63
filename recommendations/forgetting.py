"""Forgetting a user in the recommender, and masking them in the models trained before it.

``forget_recommendation_data`` removes what the recommender holds about one user: their interactions in the
configured store (every type; the user's node in a graph), their outbox changes not applied yet and their
bud opt-out, and records a ``ForgottenUser`` row (id and time only). The whole erasure, the user's events
included, is ``privacy.services.user_forget``, which calls this inside its transaction.

A served model is a snapshot: one whose data was read before the forgetting still holds the user's row
(factors, history). Serving masks such a row:

- recommendations: a user's history comes from the data service, which no longer has them, and the model's
  own copy (the fallback while the graph is down) is never used for a masked user
  (``recommending._user_history``), so they get the cold-start popularity list;
- buds: a masked user is never anyone's bud in such a model, and a masked caller's own row is not used;
- the batch export (``recommendations.exporting``) treats them as unknown to the model.

The next model is trained from the store, which no longer has them. A model's data time is
``metadata["data_read_at"]`` (written by ``recommendations.training`` before extraction starts), or its
``trained_at`` for models saved without one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.utils import timezone

from recommendations.data import get_interaction_store
from recommendations.engine import ModelArtifact
from recommendations.models import BudOptOut, ForgottenUser, PendingInteraction

DATA_READ_AT = "data_read_at"


def model_data_time(artifact: ModelArtifact) -> datetime:
    """When the model's training data was read: anything forgotten after it may be in the model."""
    raw = artifact.metadata.get(DATA_READ_AT) or artifact.metadata.get("trained_at")
    if not raw:
        return datetime.max.replace(tzinfo=UTC)  # no time at all: treat it as newer than every forgetting
    when = datetime.fromisoformat(str(raw))
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def masked_in(artifact: ModelArtifact, user_ids: Iterable[int]) -> set[int]:
    """The users among ``user_ids`` whose rows in this model must not be used (one query)."""
    ids = [int(user_id) for user_id in user_ids]
    if not ids:
        return set()
    rows = ForgottenUser.objects.filter(user_id__in=ids, forgotten_at__gt=model_data_time(artifact))
    return set(rows.values_list("user_id", flat=True))


def all_masked_in(artifact: ModelArtifact) -> set[int]:
    """Every user masked in this model (the batch export: as many as were forgotten since its data was read)."""
    rows = ForgottenUser.objects.filter(forgotten_at__gt=model_data_time(artifact))
    return set(rows.values_list("user_id", flat=True))


async def ais_masked(user_id: int, artifact: ModelArtifact) -> bool:
    if artifact.user_index(user_id) is None:
        return False
    return bool(await sync_to_async(masked_in)(artifact, [user_id]))


@dataclass(frozen=True)
class ForgottenData:
    interactions: int  # in the interaction store
    pending: int  # outbox changes that were never applied
    bud_opt_out: bool


def forget_recommendation_data(user_id: int) -> ForgottenData:
    """Erase one user's recommender data; inside a transaction that holds the user's outbox locks.

    With the built-in store the interactions go in the same transaction; a graph forgets them in one
    query of its own (idempotent: a retry after a failure later in the transaction deletes nothing more).
    """
    pending, _ = PendingInteraction.objects.filter(user_id=user_id).delete()
    opted_out, _ = BudOptOut.objects.filter(user_id=user_id).delete()
    interactions = get_interaction_store().forget_user(user_id)
    # Taken after the store forgot them: a training whose data is read later than this cannot have them.
    ForgottenUser.objects.update_or_create(user_id=user_id, defaults={"forgotten_at": timezone.now()})
    return ForgottenData(interactions=interactions, pending=pending, bud_opt_out=bool(opted_out))
