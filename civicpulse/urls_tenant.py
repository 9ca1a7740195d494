"""URLs of a tenant's host (<slug>.localhost)."""
from django.contrib import admin
from django.urls import include, path

from civicpulse import health
from tenants import views

urlpatterns = [
    path("", views.tenant_home, name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("reports.urls_api")),
    path("api/v1/", include("analytics.urls_api")),
    path("", include("reports.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

handler404 = "civicpulse.api_errors.not_found"
