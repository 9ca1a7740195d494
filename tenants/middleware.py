"""Runs right after django-tenants has resolved the host to a tenant."""
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from civicpulse.context import tenant_var

# Paths a suspended tenant still answers: operators' probes must keep working.
_ALWAYS_OPEN = ("/healthz", "/readyz")


class TenantStatusMiddleware:
    """Tags logs with the tenant, and closes a suspended tenant without touching its data."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            tenant_var.set(tenant.schema_name)
            if tenant.suspended and not request.path.startswith(_ALWAYS_OPEN):
                return self._suspended(request, tenant)
        return self.get_response(request)

    @staticmethod
    def _suspended(request: HttpRequest, tenant: object) -> HttpResponse:
        if request.path.startswith(("/api/", "/open311/")):
            return JsonResponse(
                {"code": "tenant_suspended", "message": "This tenant is suspended."},
                status=403,
            )
        return render(request, "tenants/suspended.html", {"tenant": tenant}, status=403)
