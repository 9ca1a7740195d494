from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.selectors import tenant_directory, tenant_primary_host


def directory(request: HttpRequest) -> HttpResponse:
    """The public site: which places run CivicPulse, with links. No tenant's private data."""
    port = request.get_port()
    suffix = "" if port in ("80", "443") else f":{port}"
    entries = [
        {
            "tenant": tenant,
            "url": f"{request.scheme}://{host}{suffix}/" if (host := tenant_primary_host(tenant)) else None,
        }
        for tenant in tenant_directory()
    ]
    return render(request, "tenants/directory.html", {"entries": entries})


def tenant_home(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/home.html", {"tenant": request.tenant})
