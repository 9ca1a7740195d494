"""The staff console's areas and departments: retired (`active`), never deleted, as the
page says, so the history pointing at them (issues, categories, scores, flags, location
reports) is never silently emptied. Registered when issues.admin is loaded."""

from django.contrib import admin
from django.http import HttpRequest

from civicpulse.core.admin import TenantAdmin
from issues.models import Area, Department

# What the area and department pages say about retiring instead of deleting.
RETIRE_NOTE = (
    "{things} are never deleted: issues{more} keep pointing at them, and deleting one would empty that "
    "history. To stop using one, untick “active”: it is then given no new issues, and its history stays."
)


@admin.register(Area)
class AreaAdmin(TenantAdmin):
    list_display = ("name", "code", "has_boundary", "active")
    list_filter = ("active",)
    search_fields = ("name", "code")
    fieldsets = (
        (
            None,
            {
                "fields": ("name", "code", "boundary", "active"),
                "description": RETIRE_NOTE.format(
                    things="Areas", more=", scores, flags and location reports"
                ),
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Area | None = None) -> bool:
        return False  # retire instead (see RETIRE_NOTE)

    @admin.display(boolean=True, description="boundary")
    def has_boundary(self, obj: Area) -> bool:
        return bool(obj.boundary)


@admin.register(Department)
class DepartmentAdmin(TenantAdmin):
    list_display = ("name", "code", "email", "active")
    list_filter = ("active",)
    search_fields = ("name", "code")
    filter_horizontal = ("members",)
    fieldsets = (
        (
            None,
            {
                "fields": ("name", "code", "email", "members", "active"),
                "description": RETIRE_NOTE.format(things="Departments", more=" and categories"),
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Department | None = None) -> bool:
        return False  # retire instead (see RETIRE_NOTE)
