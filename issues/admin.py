from django.contrib import admin

from civicpulse.admin import TenantAdmin
from issues.models import Area, Category


@admin.register(Area)
class AreaAdmin(TenantAdmin):
    list_display = ("name", "code", "has_boundary")
    search_fields = ("name", "code")

    @admin.display(boolean=True, description="boundary")
    def has_boundary(self, obj: Area) -> bool:
        return bool(obj.boundary)


@admin.register(Category)
class CategoryAdmin(TenantAdmin):
    list_display = ("name", "code", "default_severity", "active")
    list_filter = ("active", "default_severity")
    list_editable = ("active",)
    search_fields = ("name", "code", "description")
