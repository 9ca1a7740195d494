"""The staff console's score settings. The history of score runs, with the staff
dashboard under it: analytics/dashboards/admin.py."""

from django.contrib import admin
from django.http import HttpRequest

from analytics.scores.models import ScoreSettings
from civicpulse.core.admin import TenantAdmin


@admin.register(ScoreSettings)
class ScoreSettingsAdmin(TenantAdmin):
    list_display = (
        "__str__",
        "compliance_weight",
        "speed_weight",
        "min_resolved",
        "window_days",
        "public_rankings",
    )
    readonly_fields = ("speed_weight",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one per tenant, installed with it

    def has_delete_permission(self, request: HttpRequest, obj: ScoreSettings | None = None) -> bool:
        return False
