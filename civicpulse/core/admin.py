"""Admin building blocks shared by the apps.

One admin site serves every schema. Tenant apps' tables do not exist in the public
schema and the platform's tables are not for tenant staff, so each ModelAdmin says
where it belongs and is hidden (and refused) elsewhere.
"""

from typing import TypeVar

from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest
from django.utils.functional import cached_property
from django_tenants.utils import get_public_schema_name

from civicpulse.core.tenancy import current_schema

# Said where staff edit what the pipeline's workers keep for SETUP_CACHE_SECONDS
# (civicpulse.core.kept).
SETUP_CACHE_NOTE = (
    " Reports processed in the few seconds after a change (SETUP_CACHE_SECONDS, 5 by default)"
    " may still be handled with the values before it."
)


def acting_user(request: HttpRequest) -> User:
    """The signed-in staff member behind an admin request, as services record actors.
    The admin lets no anonymous request reach its views, so anything else is refused."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


def on_public_schema() -> bool:
    return current_schema() == get_public_schema_name()


_ModelT = TypeVar("_ModelT", bound=Model)


class SchemaScoped(admin.ModelAdmin[_ModelT]):
    """A ModelAdmin shown and allowed only on the public schema (`public_schema = True`)
    or only on tenant schemas (False)."""

    public_schema: bool

    def _here(self) -> bool:
        return on_public_schema() is self.public_schema

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._here() and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return self._here() and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._here() and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return self._here() and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return self._here() and super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict:
        """Django checks an action's permissions only when it declares them (`permissions=`
        on @admin.action). The project's own actions all do; an action that does not
        (third-party admins') is offered, and run, only to a member who may change."""
        actions = super().get_actions(request)
        if self.has_change_permission(request):
            return actions
        return {
            name: action
            for name, action in actions.items()
            if action is not None and getattr(action[0], "allowed_permissions", None)
        }


class PlatformAdmin(SchemaScoped[_ModelT]):
    public_schema = True


class TenantAdmin(SchemaScoped[_ModelT]):
    public_schema = False


class ReadOnlyTenantAdmin(TenantAdmin[_ModelT]):
    """A record staff may look at but never add, change or delete here: audit logs,
    derived figures, import batches, stored reports."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return False


def restrict_to_platform(*models: type[Model]) -> None:
    """Re-register third-party admins (registered on every schema's site) for the
    platform admin only."""
    for model in models:
        original = type(admin.site._registry[model])
        admin.site.unregister(model)
        admin.site.register(
            model, type(f"Platform{original.__name__}", (SchemaScoped, original), {"public_schema": True})
        )


def restrict_to_tenants(*models: type[Model]) -> None:
    """Re-register third-party admins of tenant apps (their tables exist in tenants'
    schemas only) for tenants' consoles only."""
    for model in models:
        original = type(admin.site._registry[model])
        admin.site.unregister(model)
        admin.site.register(
            model, type(f"Tenant{original.__name__}", (SchemaScoped, original), {"public_schema": False})
        )


class EstimatedCountPaginator(Paginator):
    """The change list counts every row; on a table of a million issues that is the slow
    part of the page. Unfiltered, take PostgreSQL's estimate (pg_class.reltuples, kept
    by autovacuum); filtered, count for real."""

    # Below this many rows a real count is cheap and exact.
    estimate_above = 10_000

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        model = getattr(self.object_list, "model", None)
        if query is not None and model is not None and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                    [model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] is not None and row[0] > self.estimate_above:
                return int(row[0])
        return super().count
