"""The platform admin's export and deletion of tenants: actions on the tenant list, the
confirmation page that asks for the slug, and the list of exports with their progress
and downloads. Superusers only: both hand over or destroy every resident's data."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from civicpulse.core.admin import PlatformAdmin, on_public_schema
from tenants.deletion import tenant_deletion_cancel, tenant_deletion_schedule
from tenants.export import export_path, export_progress, tenant_export_request
from tenants.models import Tenant, TenantExport


def _superuser(request: HttpRequest) -> bool:
    """The platform operator: a superuser of the public schema, on the public host. A
    tenant's own superuser is not one: the platform's tables are on its search path too."""
    user = request.user
    return on_public_schema() and bool(
        getattr(user, "is_active", False) and getattr(user, "is_superuser", False)
    )


class ConfirmSlugForm(forms.Form):
    slug = forms.CharField(label="Type the tenant's slug to confirm", max_length=50)


class TenantLifecycleAdminMixin:
    """Mixed into the tenant admin (tenants.admin.TenantAdminPage); registers nothing."""

    def has_export_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    def has_delete_tenant_permission(self, request: HttpRequest) -> bool:
        return _superuser(request)

    def get_list_display(self, request: HttpRequest) -> Any:
        return (*super().get_list_display(request), "deletion_due_at")  # type: ignore[misc]

    def get_urls(self) -> list:
        extra = [
            path(
                "<path:object_id>/schedule-deletion/",
                self.admin_site.admin_view(self.schedule_deletion_view),  # type: ignore[attr-defined]
                name="tenants_tenant_schedule_deletion",
            ),
            path(
                "exports/<int:export_id>/download/",
                self.admin_site.admin_view(self.export_download_view),  # type: ignore[attr-defined]
                name="tenants_tenantexport_download",
            ),
        ]
        return extra + super().get_urls()  # type: ignore[misc]

    @admin.action(
        description="Export data of selected tenants (zip of CSV and photos)", permissions=["export"]
    )
    def export_data(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            tenant_export_request(tenant=tenant, actor=request.user)
        self.message_user(  # type: ignore[attr-defined]
            request,
            format_html(
                'Export of {} tenant(s) queued: follow it under <a href="{}">Tenant exports</a>.',
                len(queryset),
                reverse("admin:tenants_tenantexport_changelist"),
            ),
            messages.SUCCESS,
        )

    @admin.action(description="Delete selected tenant after the grace period…", permissions=["delete_tenant"])
    def schedule_deletion(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Delete one tenant at a time.", messages.ERROR)  # type: ignore[attr-defined]
            return None
        tenant = queryset.get()
        return HttpResponseRedirect(reverse("admin:tenants_tenant_schedule_deletion", args=[tenant.pk]))

    @admin.action(
        description="Cancel the scheduled deletion of selected tenants", permissions=["delete_tenant"]
    )
    def cancel_deletion(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        scheduled = list(queryset.filter(deletion_due_at__isnull=False))
        for tenant in scheduled:
            tenant_deletion_cancel(tenant=tenant, actor=request.user)
        self.message_user(  # type: ignore[attr-defined]
            request,
            f"Deletion cancelled for {len(scheduled)} tenant(s); they stay suspended until reinstated.",
            messages.SUCCESS,
        )

    def schedule_deletion_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_delete_tenant_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant, pk=object_id)
        if tenant.is_public:
            raise Http404
        form = ConfirmSlugForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                tenant_deletion_schedule(
                    tenant=tenant, confirm_slug=form.cleaned_data["slug"], actor=request.user
                )
            except ValidationError as exc:
                form.add_error("slug", exc)
            else:
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    f"{tenant.name} is suspended and will be deleted on "
                    f"{timezone.localtime(tenant.deletion_due_at):%Y-%m-%d %H:%M %Z}.",
                    messages.WARNING,
                )
                return HttpResponseRedirect(reverse("admin:tenants_tenant_changelist"))
        from django.conf import settings

        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": f"Delete {tenant.name}",
            "tenant": tenant,
            "form": form,
            "grace_days": settings.TENANT_DELETION_GRACE_DAYS,
            "opts": Tenant._meta,
        }
        return TemplateResponse(request, "admin/tenants/tenant/schedule_deletion.html", context)

    def export_download_view(self, request: HttpRequest, export_id: int) -> FileResponse:
        if not self.has_export_permission(request):
            raise PermissionDenied
        export = get_object_or_404(TenantExport, pk=export_id, status=TenantExport.Status.DONE)
        file = export_path(export)
        if not file.is_file():
            raise Http404("The export's file is gone.")
        return FileResponse(file.open("rb"), as_attachment=True, filename=file.name)


@admin.register(TenantExport)
class TenantExportAdmin(PlatformAdmin[TenantExport]):
    list_display = ("tenant", "status", "progress", "created_at", "requested_by", "size", "download")
    list_filter = ("status",)
    readonly_fields = (
        "tenant",
        "status",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "file_name",
        "size_bytes",
        "sha256",
        "tables",
        "rows",
        "files",
        "error",
    )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # The list refreshes itself while an export is waiting or running.
        active = TenantExport.objects.filter(
            status__in=[TenantExport.Status.PENDING, TenantExport.Status.RUNNING]
        ).exists()
        return super().changelist_view(
            request, {**(extra_context or {}), "refresh_seconds": 5 if active else None}
        )

    def has_view_permission(self, request: HttpRequest, obj: TenantExport | None = None) -> bool:
        return _superuser(request) and super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _superuser(request) and super().has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TenantExport | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TenantExport | None = None) -> bool:
        return False

    @admin.display(description="progress")
    def progress(self, export: TenantExport) -> str:
        if export.status == TenantExport.Status.DONE:
            return f"{export.tables} tables, {export.rows} rows, {export.files} files"
        if export.status == TenantExport.Status.FAILED:
            return export.error[:120]
        state = export_progress(export.pk) if export.status == TenantExport.Status.RUNNING else None
        if not state:
            return "waiting" if export.status == TenantExport.Status.PENDING else "running"
        return f"table {state['tables_done']} of {state['tables_total']} ({state['current']}), {state['rows']} rows so far"

    @admin.display(description="size")
    def size(self, export: TenantExport) -> str:
        return f"{export.size_bytes / 1_048_576:.1f} MB" if export.size_bytes is not None else ""

    @admin.display(description="file")
    def download(self, export: TenantExport) -> str:
        if export.status != TenantExport.Status.DONE:
            return ""
        return format_html(
            '<a href="{}">download</a>', reverse("admin:tenants_tenantexport_download", args=[export.pk])
        )
