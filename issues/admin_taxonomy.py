"""The staff console's areas and departments: retired (`active`), never deleted, as the
page says, so the history pointing at them (issues, categories, scores, flags, location
reports) is never silently emptied; and the tenant's map settings. Registered when
issues.admin is loaded."""

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from civicpulse.core.admin import SETUP_CACHE_NOTE, TenantAdmin
from issues.models import Area, Department, MapSettings

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
                "description": RETIRE_NOTE.format(things="Areas", more=", scores, flags and location reports")
                + f" The resident form's map shows a change within {settings.FORM_MAP_CACHE_SECONDS:g} s;"
                " where a report may be placed is checked against the areas as they are now."
                + SETUP_CACHE_NOTE,
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
                "description": RETIRE_NOTE.format(things="Departments", more=" and categories")
                + SETUP_CACHE_NOTE,
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Department | None = None) -> bool:
        return False  # retire instead (see RETIRE_NOTE)


@admin.register(MapSettings)
class MapSettingsAdmin(TenantAdmin):
    """The street tiles of this tenant's maps (the resident form, the issue page, the
    dashboard): the platform's unless set here."""

    fields = ("tile_url", "tile_attribution", "tiles_off")

    def get_fieldsets(self, request: HttpRequest, obj: MapSettings | None = None) -> list:
        # What an empty field falls back to, said where it is edited.
        platform = settings.MAP_TILE_URL or "none (the outline map of the areas only)"
        return [
            (
                None,
                {
                    "fields": self.fields,
                    "description": f"Empty fields take the platform's tiles: {platform}. The"
                    f" resident form's map shows a change within {settings.FORM_MAP_CACHE_SECONDS:g} s.",
                },
            )
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the one row is made on first visit (changelist_view)

    def has_delete_permission(self, request: HttpRequest, obj: MapSettings | None = None) -> bool:
        return False  # empty the fields instead: they then follow the platform

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # One row per tenant: straight to it, made (empty: the platform's tiles) if missing.
        row = MapSettings.objects.filter(pk=1).first() or MapSettings()
        if row._state.adding and self.has_change_permission(request):
            row.save()
        return HttpResponseRedirect(reverse("admin:issues_mapsettings_change", args=[row.pk]))
