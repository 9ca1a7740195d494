"""Every Open311 view is wrapped the same way: its methods, the jurisdiction entered (the
host's tenant, or on the public host the one `jurisdiction_id` names), throttling of
callers without a key, and every failure answered in the spec's error shape."""

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import get_public_schema_name, tenant_context

from civicpulse.core.ratelimit import client_rate_key, rate_limit_hit
from civicpulse.core.tenancy import current_schema
from reports.open311.arguments import param
from reports.open311.errors import Open311Error, errors_render
from tenants.models import Tenant
from tenants.selectors import current_tenant, tenant_by_jurisdiction


@contextmanager
def _jurisdiction(request: HttpRequest, *, required: bool) -> Iterator[Tenant | None]:
    """Enter the tenant this request is for: the host's, or on the public host the one
    `jurisdiction_id` names."""
    jurisdiction_id = param(request, "jurisdiction_id")
    if current_schema() != get_public_schema_name():  # a tenant's host: django-tenants entered its schema
        host_tenant = current_tenant()
        if jurisdiction_id and jurisdiction_id not in (
            host_tenant.open311_jurisdiction_id,
            host_tenant.schema_name,
        ):
            raise Open311Error(404, f"jurisdiction_id {jurisdiction_id!r} was not found on this host.")
        yield host_tenant
        return
    if not jurisdiction_id:
        if required:
            raise Open311Error(
                400, "jurisdiction_id was not provided: this endpoint serves several jurisdictions."
            )
        yield None
        return
    tenant = tenant_by_jurisdiction(jurisdiction_id)
    if tenant is None:
        raise Open311Error(404, f"jurisdiction_id {jurisdiction_id!r} was not found.")
    if tenant.suspended:
        raise Open311Error(403, f"jurisdiction_id {jurisdiction_id!r} is suspended.")
    with tenant_context(tenant):
        yield tenant


def open311(*methods: str, tenant_required: bool = True) -> Callable:
    """Wrap a view: its methods, the jurisdiction, throttling of callers without a key,
    and every failure answered in the spec's error shape and format."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, fmt: str, **kwargs: str) -> HttpResponse:
            try:
                allowed = (*methods, "HEAD") if "GET" in methods else methods
                if request.method not in allowed:
                    raise Open311Error(
                        405,
                        f"{request.method} is not allowed here; use {' or '.join(methods)}.",
                        headers={"Allow": ", ".join(methods)},
                    )
                # PostgreSQL cannot store a NUL character: refuse it here, not with a 500 later,
                # in the path's segments (a service code, an id, a token) as in the arguments.
                for name, values in (
                    *((segment, [value]) for segment, value in kwargs.items()),
                    *request.GET.lists(),
                    *(request.POST.lists() if request.method == "POST" else ()),
                ):
                    if "\x00" in name or any("\x00" in value for value in values):
                        raise Open311Error(
                            400, f"{name.replace(chr(0), '')}: NUL characters are not allowed."
                        )
                with _jurisdiction(request, required=tenant_required):
                    if request.method != "POST":  # a POST is throttled by its api_key instead
                        throttle(f"anon:{client_rate_key(request)}", settings.API_ANON_RATE_PER_MINUTE)
                    return view(request, fmt, **kwargs)
            except Open311Error as error:
                return errors_render(fmt, error)

        return wrapper

    return decorate


def throttle(who: str, per_minute: int) -> None:
    wait = rate_limit_hit(who, limit=per_minute).wait
    if wait is not None:
        raise Open311Error(
            429, "Too many requests; try again later.", headers={"Retry-After": str(math.ceil(wait))}
        )
