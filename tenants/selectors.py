"""Reads on the platform."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name

from civicpulse.core.tenancy import tenant_connection
from tenants.models import LeaderboardEntry, Tenant


def tenant_directory() -> QuerySet[Tenant]:
    """Tenants shown on the public site: active ones that publish a public page, with
    their primary host prefetched."""
    return (
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .filter(suspended=False, public_page_enabled=True)
        .prefetch_related("domains")
        .order_by("kind", "name")
    )


def current_tenant() -> Tenant:
    """The tenant whose schema the connection serves (on a tenant's host, the request's
    tenant: django-tenants' middleware sets both)."""
    tenant = tenant_connection().tenant
    if not isinstance(tenant, Tenant):
        raise Tenant.DoesNotExist("the connection serves no tenant's schema")
    return tenant


def current_timezone_name() -> str:
    """The time zone of the tenant being served: where its days and weeks begin (UTC on
    the public schema)."""
    return getattr(getattr(connection, "tenant", None), "timezone", None) or "UTC"


def tenant_days_bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """The instants bounding the tenant's local days `since` to `until`, both whole days
    included: the start of the first and the start of the day after the last (None
    where a date is None)."""
    zone = ZoneInfo(current_timezone_name())
    start = datetime.combine(since, time(0), tzinfo=zone) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0), tzinfo=zone) if until else None
    return start, end


def tenant_primary_host(tenant: Tenant) -> str | None:
    for domain in tenant.domains.all():
        if domain.is_primary:
            return domain.domain
    return None


def tenant_by_jurisdiction(jurisdiction_id: str) -> Tenant | None:
    """The tenant an Open311 jurisdiction_id names on the public host."""
    return Tenant.objects.filter(open311_jurisdiction_id=jurisdiction_id).first()


def leaderboard_latest() -> dict[str, list[LeaderboardEntry]]:
    """Per kind of tenant, each taking part tenant's latest entry, best score first
    (unscored ones last). Tenants that opted out (or are suspended) are left out, also
    with the entries copied before they opted out."""
    entries = (
        LeaderboardEntry.objects.filter(tenant__leaderboard_enabled=True, tenant__suspended=False)
        .exclude(tenant__schema_name=get_public_schema_name())
        .select_related("tenant")
        .order_by("tenant_id", "-computed_at")
        .distinct("tenant_id")
    )
    by_kind: dict[str, list[LeaderboardEntry]] = {}
    for entry in sorted(entries, key=lambda e: (e.score is None, -(e.score or 0), e.tenant.name)):
        by_kind.setdefault(entry.tenant.kind, []).append(entry)
    return by_kind
