from django.contrib import admin
from django.urls import path

from musicbud import health

handler404 = "musicbud.errors.json_404"
handler500 = "musicbud.errors.json_500"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]
