"""Input and output shapes of the recommendations API (validation and OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from musicbud.fields import StrictBooleanField
from recommendations.buds import BUD_TYPES
from recommendations.domain import ContentType
from recommendations.filtering import MAX_EXCLUDE, MAX_GENRES, ListFilters, parse_filters
from recommendations.lists import LIST_NAMES

MAX_LIMIT = 100
DEFAULT_LIMIT = 10
MAX_OFFSET = 10_000
MIN_YEAR, MAX_YEAR = 1800, 2100


class PageQuerySerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


class FilteredPageQuerySerializer(PageQuerySerializer):
    """A page of any list, with the filters every list takes (recommendations/filtering.py)."""

    genre = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list,
        help_text=f"repeatable (at most {MAX_GENRES}): items with any of these genres (the catalog's names, any case)",
    )  # fmt: skip
    year_min = serializers.IntegerField(min_value=MIN_YEAR, max_value=MAX_YEAR, required=False, help_text="movies")
    year_max = serializers.IntegerField(min_value=MIN_YEAR, max_value=MAX_YEAR, required=False, help_text="movies")
    exclude = serializers.ListField(
        child=serializers.CharField(max_length=2_000), required=False, default=list,
        help_text=f"item ids to hide, repeatable or comma-separated (at most {MAX_EXCLUDE})",
    )  # fmt: skip
    diversity = serializers.FloatField(
        min_value=0.0, max_value=1.0, default=0.0, help_text="0 (off) to 1: MMR re-ranking with the model's items"
    )


def list_filters(content_type: ContentType, query: dict[str, Any]) -> ListFilters:
    """The filters of a validated FilteredPageQuerySerializer query."""
    return parse_filters(
        content_type,
        genres=query["genre"],
        year_min=query.get("year_min"),
        year_max=query.get("year_max"),
        exclude=query["exclude"],
        diversity=query["diversity"],
    )


class LimitQuerySerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


class CatalogItemSerializer(serializers.Serializer[Any]):
    item_id = serializers.CharField(help_text="IMDb id for movies, MyAnimeList id for manga and anime")
    title = serializers.CharField(allow_null=True)
    genres = serializers.ListField(child=serializers.CharField())
    image_url = serializers.CharField(allow_null=True, help_text="a picture of the item (http or https), or null")


class ReasonSerializer(serializers.Serializer[Any]):
    code = serializers.ChoiceField(choices=["popular", "because_you_liked"])
    item = CatalogItemSerializer(required=False, help_text="the liked item that explains it")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # A popularity reason has no item: the key is absent rather than null.
        data = super().to_representation(instance)
        if data.get("item") is None:
            data.pop("item", None)
        return dict(data)


class RecommendedItemSerializer(CatalogItemSerializer):
    score = serializers.FloatField()
    rank = serializers.IntegerField(help_text="1-based position in the full ranking (offset + index + 1)")
    reason = ReasonSerializer()


class RecommendationPageSerializer(serializers.Serializer[Any]):
    content_type = serializers.ChoiceField(choices=[ct.value for ct in ContentType])
    # DRF's metaclass turns declared fields into .fields; the name only shadows Field.source for mypy.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["model", "popularity"], help_text="model, or the popularity fallback (cold start / no model)"
    )
    model_version = serializers.CharField(help_text='the model version, or "popularity" when no model exists')
    variant = serializers.CharField(help_text="the caller's A/B variant")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    diversity = serializers.FloatField(help_text="the diversity applied (0 when asked for none, or without a model)")
    items = RecommendedItemSerializer(many=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # Every fresh page is serialized here: built straight from the dataclass it takes 0.05 ms, where
        # DRF's field-by-field walk took 0.5-0.9 ms for ten items (/tmp timing, bench data). The declared
        # fields give the schema; tests/api/test_serializers.py checks the two representations are equal.
        return {
            "content_type": instance.content_type,
            "source": instance.source,
            "model_version": instance.model_version,
            "variant": instance.variant,
            "limit": instance.limit,
            "offset": instance.offset,
            "diversity": float(instance.diversity),
            "items": [_recommended_item(item) for item in instance.items],
        }


def _catalog_item(item: Any) -> dict[str, Any]:
    return {"item_id": item.item_id, "title": item.title, "genres": list(item.genres), "image_url": item.image_url}


def _recommended_item(item: Any) -> dict[str, Any]:
    reason: dict[str, Any] = {"code": item.reason.code}
    if item.reason.item is not None:
        reason["item"] = _catalog_item(item.reason.item)
    return {**_catalog_item(item), "score": float(item.score), "rank": int(item.rank), "reason": reason}


class ModelStateSerializer(serializers.Serializer[Any]):
    # See RecommendationPageSerializer.source.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["model", "popularity"],
        help_text="model, or popularity while no model was trained or when the trained model is popularity "
        "(selection found nothing better; model_version and the metrics are then given)",
    )
    model_version = serializers.CharField(allow_null=True)
    trained_at = serializers.CharField(allow_null=True, required=False)
    users = serializers.IntegerField(allow_null=True, required=False)
    items = serializers.IntegerField(allow_null=True, required=False)
    interactions = serializers.IntegerField(allow_null=True, required=False)
    metrics = serializers.JSONField(allow_null=True, required=False, help_text="holdout metrics of the served model")
    selection = serializers.JSONField(
        allow_null=True, required=False, help_text="every candidate model's validation metrics and the one chosen"
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # A type without a model says only that (its model fields would all be null).
        data = dict(super().to_representation(instance))
        return data if data["model_version"] is not None else {"source": data["source"], "model_version": None}


class ModelStatusSerializer(serializers.Serializer[Any]):
    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {ct.value: ModelStateSerializer() for ct in ContentType}


class ContentTypeErrorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="stable error code, e.g. graph_unavailable")
    message = serializers.CharField()


class AllRecommendationsSerializer(serializers.Serializer[Any]):
    # Fields built in get_fields: a declared attribute named ``errors`` would shadow Serializer.errors.
    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields: dict[str, serializers.Field[Any, Any, Any, Any]] = {
            ct.value: RecommendationPageSerializer(allow_null=True, help_text="null when this type is unavailable")
            for ct in ContentType
        }
        fields["errors"] = serializers.DictField(
            child=ContentTypeErrorSerializer(),
            help_text="content type -> why its page is null (a dependency is down); empty when all are served",
        )
        return fields


class SimilarItemSerializer(CatalogItemSerializer):
    similarity = serializers.FloatField(
        help_text="how similar, by the served model: cosine of the item embeddings (factor models), the item-item "
        "weight (EASE, RP3beta) or the cosine of co-occurrence (popularity)"
    )
    rank = serializers.IntegerField()


class SimilarItemsSerializer(serializers.Serializer[Any]):
    content_type = serializers.CharField()
    model_version = serializers.CharField()
    item = CatalogItemSerializer()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    diversity = serializers.FloatField()
    items = SimilarItemSerializer(many=True)


class BrowseItemSerializer(CatalogItemSerializer):
    year = serializers.IntegerField(allow_null=True, help_text="release year (movies), null where unknown")
    score = serializers.FloatField(allow_null=True, help_text="what popular/trending rank by; null in latest")
    rank = serializers.IntegerField(help_text="1-based position in the filtered list (offset + index + 1)")


class BrowseListSerializer(serializers.Serializer[Any]):
    """One page of a browsing list: the same for every caller."""

    # ``name`` of the dataclass, as "list" in the body.
    list = serializers.ChoiceField(choices=list(LIST_NAMES), source="name")
    content_type = serializers.ChoiceField(choices=[ct.value for ct in ContentType])
    # See RecommendationPageSerializer.source.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["model", "popularity", "catalog"],
        help_text="the served model's list, the data service's (no model yet), or the catalog (latest)",
    )
    model_version = serializers.CharField(help_text='the served model, or "popularity" when there is none')
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    diversity = serializers.FloatField(help_text="the diversity applied (0 without a model)")
    items = BrowseItemSerializer(many=True)


class TrainRequestSerializer(serializers.Serializer[Any]):
    content_types = serializers.ListField(
        child=serializers.ChoiceField(choices=["all", *(ct.value for ct in ContentType)]),
        min_length=1,
        default=["all"],
        help_text='types to train; "all" (the default) means every type',
    )

    def validate_content_types(self, value: list[str]) -> list[str]:
        return [ct.value for ct in ContentType] if "all" in value else list(dict.fromkeys(value))


class TrainingRunSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    content_type = serializers.CharField()
    status = serializers.CharField()
    triggered_by = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_s = serializers.FloatField(allow_null=True)
    model_version = serializers.CharField()
    users = serializers.IntegerField(allow_null=True)
    items = serializers.IntegerField(allow_null=True)
    interactions = serializers.IntegerField(allow_null=True)
    precision_at_k = serializers.FloatField(allow_null=True)
    recall_at_k = serializers.FloatField(allow_null=True)
    ndcg_at_k = serializers.FloatField(allow_null=True)
    auc = serializers.FloatField(allow_null=True)
    metrics = serializers.JSONField()
    error = serializers.CharField()


class TrainResponseSerializer(serializers.Serializer[Any]):
    runs = TrainingRunSerializer(many=True)


MAX_BUDS = 50
MAX_BUD_OFFSET = 1_000


class BudQuerySerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=list(BUD_TYPES), default="all", help_text='"all" or one content type')
    limit = serializers.IntegerField(min_value=1, max_value=MAX_BUDS, default=DEFAULT_LIMIT)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_BUD_OFFSET, default=0)


class CommonItemSerializer(CatalogItemSerializer):
    content_type = serializers.ChoiceField(choices=[ct.value for ct in ContentType])


class BudSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    score = serializers.FloatField(help_text="taste similarity, 0 to 1 (docs/api.md says how it is computed)")
    rank = serializers.IntegerField(help_text="1-based position (offset + index + 1)")
    common_items = CommonItemSerializer(many=True, help_text="items both like, what both like most first")


class BudsSerializer(serializers.Serializer[Any]):
    content_type = serializers.ChoiceField(choices=list(BUD_TYPES))
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    reason = serializers.ChoiceField(
        choices=["opted_out", "no_model", "no_history", "no_match"],
        allow_null=True,
        help_text="why the list is empty: the caller opted out, no model is served, the caller has no positive "
        "interactions in a served model, or nobody eligible is similar; null when it is not empty",
    )
    model_versions = serializers.DictField(child=serializers.CharField(), help_text="type -> served model version")
    weights = serializers.DictField(child=serializers.FloatField(), help_text="type -> weight in the combined score")
    buds = BudSerializer(many=True)


class BudVisibilitySerializer(serializers.Serializer[Any]):
    visible = StrictBooleanField(help_text="false: appear in nobody's buds, and be shown none")


PUBLIC_TYPES = ["all", *(ct.value for ct in ContentType)]
PUBLIC_DEFAULT_LIMIT = 20
PUBLIC_MAX_LIMIT = 50


class PublicQuerySerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=PUBLIC_TYPES, default="all", help_text='"all" or one content type')
    limit = serializers.IntegerField(min_value=1, max_value=PUBLIC_MAX_LIMIT, default=PUBLIC_DEFAULT_LIMIT)


class ListedItemSerializer(CatalogItemSerializer):
    score = serializers.FloatField(help_text="the popularity (or trending) score it was ranked by")
    rank = serializers.IntegerField()


class PublicDataSerializer(serializers.Serializer[Any]):
    """Per requested content type its popular list (what the MusicBud app reads), and the trending lists."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # required=False: a type that was not asked for is left out of the body.
        fields: dict[str, serializers.Field[Any, Any, Any, Any]] = {
            ct.value: ListedItemSerializer(many=True, required=False, help_text=f"popular {ct.value}, most first")
            for ct in ContentType
        }
        fields["trending"] = serializers.DictField(
            child=ListedItemSerializer(many=True), help_text="content type -> its trending items"
        )
        return fields


class PublicRecommendationsSerializer(serializers.Serializer[Any]):
    """The envelope the MusicBud app reads. Fields built in get_fields: ``data`` and ``errors`` are also
    attributes of Serializer."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {
            "success": serializers.BooleanField(help_text="true when at least one requested type could be served"),
            "message": serializers.CharField(),
            "data": PublicDataSerializer(),
            "is_personalized": serializers.BooleanField(help_text="always false: the same lists for every guest"),
            "errors": serializers.DictField(
                child=ContentTypeErrorSerializer(),
                help_text="content type -> why its lists are empty (dependency down)",
            ),
        }
