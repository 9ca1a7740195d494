"""Resolving the host to a tenant, and what happens right after."""

import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware

from civicpulse.core.context import tenant_var
from civicpulse.core.errors import error_response_for
from tenants.models import Domain, Tenant

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
    def _suspended(request: HttpRequest, tenant: Tenant) -> HttpResponse:
        return error_response_for(
            request,
            403,
            code="tenant_suspended",
            message="This tenant is suspended.",
            page=lambda: render(request, "tenants/suspended.html", {"tenant": tenant}, status=403),
        )


class CachedTenantMainMiddleware(TenantMainMiddleware):
    """django-tenants' host-to-tenant resolution, remembered per process for a few seconds
    (TENANT_CACHE_SECONDS; 0 turns it off). Every request otherwise pays a query and a
    search_path change just to learn what barely ever changes. The price: suspending a
    tenant or changing its hosts takes up to that long to reach every process."""

    _cache: dict[str, tuple[Tenant, float]] = {}
    _lock = threading.Lock()

    def get_tenant(self, domain_model: type[Domain], hostname: str) -> Tenant:
        ttl = settings.TENANT_CACHE_SECONDS
        if ttl <= 0:
            return super().get_tenant(domain_model, hostname)
        now = time.monotonic()
        hit = self._cache.get(hostname)
        if hit is not None and hit[1] > now:
            return hit[0]
        tenant = super().get_tenant(domain_model, hostname)  # raises DoesNotExist: not cached
        with self._lock:
            if len(self._cache) > 10_000:  # hosts are few; never let junk Host headers pile up
                self._cache.clear()
            self._cache[hostname] = (tenant, now + ttl)
        return tenant

    @classmethod
    def forget(cls) -> None:
        cls._cache.clear()
