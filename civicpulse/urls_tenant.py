"""URLs of a tenant's host (<slug>.localhost)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from civicpulse import health
from tenants import views

urlpatterns = [
    path("", views.tenant_home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("reports.urls_api")),
    path("api/v1/", include("analytics.urls_api")),
    path("api/v1/", include("issues.urls_api")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("open311/v2/", include("reports.urls_open311")),
    path("", include("reports.urls")),
    path("", include("analytics.urls")),
    # The language switcher posts here (Django's set_language: a cookie, then back).
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

handler404 = "civicpulse.core.errors.not_found"
