from django.contrib import admin

from analytics.models import SlaPolicy
from civicpulse.admin import TenantAdmin


@admin.register(SlaPolicy)
class SlaPolicyAdmin(TenantAdmin):
    list_display = ("__str__", "category", "severity", "acknowledge_hours", "resolve_hours")
    list_filter = ("severity", "category")
    list_select_related = ("category",)
