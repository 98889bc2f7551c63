"""The MusicBud app's bud calls at MusicBud's backend's own paths (mounted at ``/bud/``; docs/musicbud.md)."""

from __future__ import annotations

from django.urls import path

from recommendations.api.app_buds import (
    BudsByLikedApi,
    BudsByPlayedApi,
    BudsByTopApi,
    CommonLikedApi,
    CommonLikedTracksApi,
    CommonPlayedApi,
    CommonTopApi,
)

# The same calls as the app makes them once its endpoint map (``assets/endpoints_map.json``, read by
# ``lib/services/endpoint_config_service.dart``, which every data source asks first) is loaded: MusicBud's backend's
# own paths, ``/bud/...`` without ``/v1`` and mostly without the trailing slash (``/bud/top/artists/`` has one).
# Aliases of app_buds' /v1/bud/ routes, so they stay out of the schema.
_VIEWS = [
    ("top/<str:kind>", BudsByTopApi),
    ("liked/<str:kind>", BudsByLikedApi),
    ("played/<str:kind>", BudsByPlayedApi),
    ("common/liked/tracks", CommonLikedTracksApi),
    ("common/top/<str:kind>", CommonTopApi),
    ("common/liked/<str:kind>", CommonLikedApi),
    ("common/played/<str:kind>", CommonPlayedApi),
]
urlpatterns = [
    path(
        route + slash,
        view.as_view(schema=None),
        name=f"app-map-{route.split('/<')[0].replace('/', '-')}{slash and '-slash'}",
    )
    for route, view in _VIEWS
    for slash in ("", "/")
]
