"""Limits on what anonymous residents can make a tenant hold: reports per client address
(an IPv6 client counted by its /64), reports per tenant and hour, and the tenant's photo
storage. Each is counted increment-first on the kernel's rate limiter, so two requests
racing for the last place cannot both get it."""

from django.db.models import Sum
from django.http import HttpRequest

from civicpulse.core.ratelimit import RateLimitHit, client_rate_key, rate_limit_hit
from reports.models import Report
from tenants.selectors import current_tenant

# Reports one client address may send through the resident form in a window.
FORM_RATE = (5, 600)  # reports, seconds
TENANT_WINDOW_S = 3600


def form_rate_hit(request: HttpRequest) -> RateLimitHit:
    """Count one form POST of this client address (its /64 for IPv6)."""
    return rate_limit_hit(
        client_rate_key(request), limit=FORM_RATE[0], window_s=FORM_RATE[1], scope="form-rate"
    )


def tenant_hour_hit() -> RateLimitHit:
    """Count one resident report against the tenant's hourly cap (0: no cap)."""
    return rate_limit_hit(
        "all", limit=current_tenant().resident_reports_per_hour, window_s=TENANT_WINDOW_S, scope="tenant-hour"
    )


def photo_storage_used() -> int:
    """Bytes of the current tenant's stored photos (an index-only sum)."""
    return Report.objects.filter(photo_bytes__gt=0).aggregate(total=Sum("photo_bytes"))["total"] or 0


def photo_storage_left() -> int | None:
    """Bytes the current tenant may still store in photos; None: no quota."""
    quota_mb = current_tenant().photo_storage_quota_mb
    if not quota_mb:
        return None
    return max(0, quota_mb * 1024 * 1024 - photo_storage_used())
