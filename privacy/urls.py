"""Routes of the privacy API; the project includes them under /v1/recommendations/."""

from __future__ import annotations

from django.urls import path

from privacy.api import ForgetMeApi

urlpatterns = [
    path("me/", ForgetMeApi.as_view(), name="forget-me"),
]
