"""Output serializers that build their representation directly agree with what their declared fields say."""

from __future__ import annotations

from rest_framework import serializers

from recommendations.api.serializers import RecommendationPageSerializer
from recommendations.recommending import ItemInfo, Reason, RecommendationPage, RecommendedItem


def test_a_page_is_represented_as_its_declared_fields_would_represent_it() -> None:
    liked = ItemInfo("tt0000002", "Liked", ("Drama",))
    page = RecommendationPage(
        content_type="movies", source="model", model_version="v1", variant="control", limit=2, offset=4,
        items=(
            RecommendedItem("tt0000007", "Seven", ("Crime", "Drama"), 0.5, 5, Reason("because_you_liked", liked)),
            RecommendedItem("tt0000009", None, (), 0.25, 6, Reason("popular")),
        ),
    )  # fmt: skip
    direct = RecommendationPageSerializer(page).data
    by_fields = serializers.Serializer.to_representation(RecommendationPageSerializer(), page)
    assert direct == by_fields
    assert direct["items"][1]["reason"] == {"code": "popular"}
    assert direct["items"][0]["reason"]["item"]["title"] == "Liked"
