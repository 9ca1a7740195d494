from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from civicpulse.core.charts import hbars_svg
from tenants.models import LeaderboardEntry, Tenant
from tenants.selectors import current_tenant, leaderboard_latest, tenant_directory, tenant_primary_host


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
    return render(request, "tenants/home.html", {"tenant": current_tenant()})


def leaderboard(request: HttpRequest) -> HttpResponse:
    """Tenants of the same kind compared by their latest hourly score (copied into the
    public schema by each tenant's computation), as a chart and a table per kind."""
    kinds: list[dict[str, str | list[LeaderboardEntry] | SafeString]] = []
    for kind, entries in leaderboard_latest().items():
        label = str(Tenant.Kind(kind).label)  # in the visitor's language
        kinds.append(
            {
                "label": label,
                "entries": entries,
                "chart": hbars_svg(
                    [(e.tenant.name, e.score) for e in entries],
                    title=_("Scores, %(kind)s (0–100)") % {"kind": label.lower()},
                    maximum=100,
                ),
            }
        )
    kinds.sort(key=lambda k: str(k["label"]))
    return render(request, "tenants/leaderboard.html", {"kinds": kinds})
