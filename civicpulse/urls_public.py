"""URLs of the public site (localhost, 127.0.0.1): the tenant directory and the platform admin."""
from django.contrib import admin
from django.urls import path

from civicpulse import health
from tenants import views

urlpatterns = [
    path("", views.directory, name="directory"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
