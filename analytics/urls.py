"""Routes of the analytics API; the project includes them under /v1/recommendations/."""

from __future__ import annotations

from django.urls import path

from analytics.api import RecommendationEventsApi

urlpatterns = [
    path("events/", RecommendationEventsApi.as_view(), name="recommendation-events"),
]
