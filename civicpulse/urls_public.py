"""URLs of the public site (localhost, 127.0.0.1): the tenant directory, the platform admin
and the shared Open311 endpoint."""

from django.contrib import admin
from django.urls import include, path

from civicpulse import health
from tenants import views

urlpatterns = [
    path("", views.directory, name="directory"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("admin/", admin.site.urls),
    # Open311 for every tenant, chosen by jurisdiction_id.
    path("open311/v2/", include("reports.urls_open311")),
    # The language switcher posts here (Django's set_language: a cookie, then back).
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
