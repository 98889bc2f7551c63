"""Routes under /v1/recommendations/. Literal segments come before the <content_type> pattern."""

from __future__ import annotations

from django.urls import include, path

from recommendations.api import views
from recommendations.lists import LIST_NAMES

urlpatterns = [
    path("", views.AllRecommendationsApi.as_view(), name="recommendations"),
    path("", include("analytics.urls")),
    path("", include("privacy.urls")),
    path("public/", views.PublicRecommendationsApi.as_view(), name="recommendations-public"),
    path("status/", views.ModelStatusApi.as_view(), name="recommendations-status"),
    path("buds/", views.BudsApi.as_view(), name="buds"),
    path("buds/visibility/", views.BudVisibilityApi.as_view(), name="bud-visibility"),
    path("train/models/", views.TrainModelsApi.as_view(), name="train-models"),
    path("train/models/<int:run_id>/", views.TrainingRunApi.as_view(), name="training-run"),
    path("<str:content_type>/", views.RecommendationsApi.as_view(), name="recommendations-type"),
    *(
        path(f"<str:content_type>/{name}/", views.BrowseListApi.as_view(list_name=name), name=f"list-{name}")
        for name in LIST_NAMES
    ),
    path(
        "<str:content_type>/<str:item_id>/similar/",
        views.SimilarItemsApi.as_view(),
        name="similar-items",
    ),
]
