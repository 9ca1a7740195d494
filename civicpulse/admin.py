"""Admin building blocks shared by the apps.

One admin site serves every schema. Tenant apps' tables do not exist in the public
schema and the platform's tables are not for tenant staff, so each ModelAdmin says
where it belongs and is hidden (and refused) elsewhere.
"""
from django.contrib import admin
from django.db import connection
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name


def on_public_schema() -> bool:
    return connection.schema_name == get_public_schema_name()


class _SchemaScopedAdmin(admin.ModelAdmin):
    public_schema: bool  # True: platform admin only; False: tenant admins only.

    def _here(self) -> bool:
        return on_public_schema() is self.public_schema

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._here() and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._here() and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._here() and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._here() and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self._here() and super().has_delete_permission(request, obj)


class PlatformAdmin(_SchemaScopedAdmin):
    public_schema = True


class TenantAdmin(_SchemaScopedAdmin):
    public_schema = False
