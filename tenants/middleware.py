"""Resolving the host to a tenant, and what happens right after."""

import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header
from django_tenants.middleware.main import TenantMainMiddleware

from civicpulse.core.context import tenant_var
from civicpulse.core.errors import error_response_for
from tenants.models import Domain, Tenant

# Paths a suspended tenant still answers: operators' probes must keep working.
_ALWAYS_OPEN = ("/healthz", "/readyz")
# The staff console and the integrators' APIs stay in LANGUAGE_CODE: their own texts are
# not translated, and an API's messages must not change with a caller's browser.
_SETTLED_LANGUAGE = ("/admin/", "/api/", "/open311/", "/healthz", "/readyz")


def resident_language(request: HttpRequest, default: str) -> str:
    """The visitor's choice (the switcher's cookie), else the first language their browser
    asks for that the site speaks, else `default` (the tenant's, on a tenant's host)."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    asked = [chosen] if chosen else []
    asked += [code for code, _ in parse_accept_lang_header(request.headers.get("Accept-Language", ""))]
    for code in asked:
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return default


class TenantLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware (Vary: Accept-Language, Content-Language) with the tenant's
    default language where the visitor expressed none; staff and API paths stay settled."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(_SETTLED_LANGUAGE):
            language = settings.LANGUAGE_CODE
        else:
            tenant = getattr(request, "tenant", None)
            language = resident_language(
                request, getattr(tenant, "default_language", "") or settings.LANGUAGE_CODE
            )
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


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
