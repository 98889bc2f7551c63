from django.contrib import admin
from django.urls import include, path
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from musicbud import health
from musicbud.api import error_responses

handler404 = "musicbud.api.json_404"
handler500 = "musicbud.api.json_500"

# The token views are simplejwt's; only their schema is ours: the documented error answers.
_token_pair = inline_serializer("TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()})
_access = inline_serializer("AccessToken", {"access": serializers.CharField()})
token_obtain = extend_schema_view(post=extend_schema(responses={200: _token_pair, **error_responses(400)}))(
    TokenObtainPairView
)
token_refresh = extend_schema_view(post=extend_schema(responses={200: _access, **error_responses(400)}))(
    TokenRefreshView
)

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("v1/auth/token/", token_obtain.as_view(), name="token-obtain"),
    path("v1/auth/token/refresh/", token_refresh.as_view(), name="token-refresh"),
    path("v1/recommendations/", include("recommendations.urls")),
    path("v1/bud/", include("recommendations.api.app_buds")),
    # The app's bud calls at MusicBud's backend's own paths (its endpoint map): docs/musicbud.md.
    path("bud/", include("recommendations.api.app_map_urls")),
    path("v1/schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path(
        "v1/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[], authentication_classes=[]),
        name="docs",
    ),
]
