"""The built-in backend: interactions in the Django database (SQLite on a laptop, PostgreSQL in production).

Upserts are single ``INSERT … ON CONFLICT DO UPDATE`` statements (``bulk_create(update_conflicts=True)``)
on the (user, item, kind) unique constraint: the same semantics as MERGE in the graph, and safe when two
requests record the same interaction at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from django.db import transaction
from django.db.models import Count, Max, QuerySet, Sum

from ..domain import CatalogItem, ContentType, InteractionArrays, InteractionKind
from ..models import Interaction, Item
from .arrays import arrays_from_rows
from .popularity import Window, WindowCount
from .store import InteractionStore, RecordedInteraction, RemovedInteraction

# Ids per IN (...) list: far below SQLite's bound-parameter limit.
_IN_CHUNK = 5_000
_WRITE_BATCH = 5_000
_ROW_FIELDS = ("user_id", "item__external_id", "kind", "value", "timestamp")
_CATALOG_FIELDS = ("external_id", "title", "genres", "year", "image_url")


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start : start + _IN_CHUNK]


def _catalog_item(row: tuple[str, str, list[str], int | None, str | None]) -> CatalogItem:
    external_id, title, genres, year, image_url = row
    return CatalogItem(item_id=external_id, title=title, genres=tuple(genres), year=year, image_url=image_url)


def _window_query(
    ct: ContentType, window: Window, kinds: list[InteractionKind]
) -> QuerySet[Interaction, tuple[str, int, int, int]]:
    return (
        Interaction.objects.filter(
            content_type=ct, kind__in=kinds, timestamp__gte=window.start, timestamp__lte=window.end
        )
        .values("item__external_id", "kind")
        .annotate(n=Count("id"), total=Sum("timestamp"))
        .values_list("item__external_id", "kind", "n", "total")
    )


def _window_count(row: tuple[str, int, int, int]) -> WindowCount:
    item_id, kind, n, total = row
    # PostgreSQL's SUM(bigint) is numeric (Decimal): int() keeps it exact.
    return WindowCount(item_id=item_id, kind=kind, count=int(n), timestamp_sum=int(total))


def _interaction_row(interaction: RecordedInteraction, item_pk: int) -> Interaction:
    return Interaction(
        user_id=interaction.user_id,
        item_id=item_pk,
        content_type=interaction.content_type,
        kind=interaction.kind,
        value=interaction.value,
        timestamp=interaction.timestamp,
    )


# INSERT … ON CONFLICT (user_id, item_id, kind) DO UPDATE SET value, timestamp.
_CONFLICT_KEY = ["user_id", "item", "kind"]
_UPDATED = ["value", "timestamp"]


class OrmInteractionStore(InteractionStore):
    uses_django_database = True

    def ensure_schema(self) -> None:
        """Nothing to do: the schema is the app's migrations (``manage.py migrate``)."""

    def _item_degrees(self, ct: ContentType) -> tuple[list[str], list[int]]:
        rows = (
            Item.objects.filter(content_type=ct)
            .annotate(n=Count("interactions"))
            .filter(n__gt=0)
            .values_list("external_id", "n")
        )
        pairs = list(rows)
        return [item_id for item_id, _ in pairs], [n for _, n in pairs]

    def _item_interactions(self, ct: ContentType, item_ids: list[str]) -> InteractionArrays:
        rows: list[tuple[int, str, int, float | None, int]] = []
        for chunk in _chunks(item_ids):
            rows.extend(
                Interaction.objects.filter(content_type=ct, item__external_id__in=chunk).values_list(*_ROW_FIELDS)
            )
        return arrays_from_rows(rows)

    def _user_history(self, ct: ContentType, user_id: int) -> InteractionArrays:
        return arrays_from_rows(
            list(Interaction.objects.filter(content_type=ct, user_id=user_id).values_list(*_ROW_FIELDS))
        )

    def _catalog(self, ct: ContentType, item_ids: list[str] | None) -> list[CatalogItem]:
        items = Item.objects.filter(content_type=ct)
        if item_ids is None:
            return [_catalog_item(row) for row in items.values_list(*_CATALOG_FIELDS)]
        return [
            _catalog_item(row)
            for chunk in _chunks(item_ids)
            for row in items.filter(external_id__in=chunk).values_list(*_CATALOG_FIELDS)
        ]

    def _newest_timestamp(self, ct: ContentType) -> int | None:
        newest: int | None = Interaction.objects.filter(content_type=ct).aggregate(t=Max("timestamp"))["t"]
        return newest

    def _window_counts(self, ct: ContentType, window: Window, kinds: list[InteractionKind]) -> list[WindowCount]:
        return [_window_count(row) for row in _window_query(ct, window, kinds)]

    def _upsert_interaction(self, interaction: RecordedInteraction) -> bool:
        item_pk = (
            Item.objects.filter(content_type=interaction.content_type, external_id=interaction.item_id)
            .values_list("pk", flat=True)
            .first()
        )
        if item_pk is None:
            return False
        Interaction.objects.bulk_create(
            [_interaction_row(interaction, item_pk)],
            update_conflicts=True,
            unique_fields=_CONFLICT_KEY,
            update_fields=_UPDATED,
        )
        return True

    def _delete_interaction(self, removal: RemovedInteraction) -> bool:
        deleted, _ = Interaction.objects.filter(
            user_id=removal.user_id,
            content_type=removal.content_type,
            item__external_id=removal.item_id,
            kind=removal.kind,
        ).delete()
        return deleted > 0

    def _max_user_id(self) -> int | None:
        top: int | None = Interaction.objects.aggregate(top=Max("user_id"))["top"]
        return top

    def _forget_user(self, user_id: int) -> int:
        deleted, _ = Interaction.objects.filter(user_id=user_id).delete()
        return deleted

    def _upsert_catalog(self, ct: ContentType, items: list[CatalogItem]) -> int:
        rows = [
            Item(
                content_type=ct,
                external_id=item.item_id,
                title=item.title,
                genres=list(item.genres),
                year=item.year,
                image_url=item.image_url,
            )
            for item in items
        ]
        with transaction.atomic():
            Item.objects.bulk_create(
                rows,
                batch_size=_WRITE_BATCH,
                update_conflicts=True,
                unique_fields=["content_type", "external_id"],
                update_fields=["title", "genres", "year", "image_url"],
            )
        return len(rows)

    def _item_pks(self, ct: ContentType, item_ids: list[str]) -> dict[str, int]:
        pks: dict[str, int] = {}
        for chunk in _chunks(item_ids):
            pks.update(Item.objects.filter(content_type=ct, external_id__in=chunk).values_list("external_id", "pk"))
        return pks

    def _missing_items(self, ct: ContentType, item_ids: list[str]) -> list[str]:
        found = self._item_pks(ct, item_ids)
        return [item_id for item_id in item_ids if item_id not in found]

    def _write_interactions(self, ct: ContentType, arrays: InteractionArrays) -> None:
        pks = self._item_pks(ct, np.unique(arrays.item_ids).tolist())
        values = arrays.values.tolist()
        rows = [
            Interaction(
                user_id=user_id,
                item_id=pks[item_id],
                content_type=ct,
                kind=kind,
                value=None if math.isnan(value) else value,  # NaN (no value) is stored as NULL
                timestamp=timestamp,
            )
            for user_id, item_id, kind, value, timestamp in zip(
                arrays.user_ids.tolist(),
                arrays.item_ids.tolist(),
                arrays.kinds.tolist(),
                values,
                arrays.timestamps.tolist(),
                strict=True,
            )
        ]
        with transaction.atomic():
            Interaction.objects.bulk_create(
                rows,
                batch_size=_WRITE_BATCH,
                update_conflicts=True,
                unique_fields=_CONFLICT_KEY,
                update_fields=_UPDATED,
            )
