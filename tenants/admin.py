"""The platform admin: operators create, edit and suspend tenants on the public site."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name

from civicpulse.core.admin import PlatformAdmin
from tenants.admin_lifecycle import TenantLifecycleAdminMixin
from tenants.models import Domain, Tenant
from tenants.services import tenant_create, tenant_set_suspended


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdminPage(TenantLifecycleAdminMixin, PlatformAdmin):
    list_display = (
        "name",
        "schema_name",
        "kind",
        "suspended",
        "public_page_enabled",
        "open311_public_reads",
        "created_at",
    )
    list_filter = ("kind", "suspended")
    search_fields = ("name", "schema_name", "domains__domain")
    ordering = ("name",)
    # Export and deletion after a grace period: tenants.admin_lifecycle.
    actions = ("suspend", "reinstate", "export_data", "schedule_deletion", "cancel_deletion")
    readonly_fields = ("created_at", "deletion_due_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        # The public schema's own row is plumbing, not a tenant to manage.
        return super().get_queryset(request).exclude(schema_name=get_public_schema_name())

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> tuple:
        # The slug names the schema and the host: fixed once the tenant exists.
        return (*self.readonly_fields, "schema_name") if obj else self.readonly_fields

    def get_exclude(self, request: HttpRequest, obj: Tenant | None = None) -> tuple:
        # What a tenant publishes starts from its kind (tenant_create); edited once it exists.
        return () if obj else ("open311_public_reads", "leaderboard_enabled")

    def get_inlines(self, request: HttpRequest, obj: Tenant | None) -> list:
        return [DomainInline] if obj else []

    def save_model(self, request: HttpRequest, obj: Tenant, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        created = tenant_create(
            slug=data["schema_name"],
            name=data["name"],
            kind=data["kind"],
            timezone=data["timezone"],
            open311_jurisdiction_id=data.get("open311_jurisdiction_id"),
        )
        # The admin goes on with `obj` (messages, redirect): make it the saved tenant.
        obj.pk = created.pk
        obj._state.adding = False
        Tenant.objects.filter(pk=created.pk).update(
            suspended=data["suspended"],
            public_page_enabled=data["public_page_enabled"],
            analyst_accounts_enabled=data["analyst_accounts_enabled"],
            default_language=data["default_language"],
        )

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        # Never deleted outright: a deletion is scheduled (suspended now, dropped after the
        # grace period) through tenants.admin_lifecycle, with the slug typed to confirm.
        return False

    @admin.action(description="Suspend selected tenants", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            tenant_set_suspended(tenant=tenant, suspended=True)
        self.message_user(request, f"Suspended {len(queryset)} tenant(s).", messages.SUCCESS)

    @admin.action(description="Reinstate selected tenants", permissions=["change"])
    def reinstate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            tenant_set_suspended(tenant=tenant, suspended=False)
        self.message_user(request, f"Reinstated {len(queryset)} tenant(s).", messages.SUCCESS)
