"""Writes on the platform: provisioning tenants and keeping the public site's hosts."""

import logging
import time
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string
from django_tenants.utils import get_public_schema_name, tenant_context

from tenants.models import Domain, LeaderboardEntry, Tenant

logger = logging.getLogger(__name__)


def tenant_domain_for(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


@transaction.atomic
def tenant_create(
    *,
    slug: str,
    name: str,
    kind: str,
    timezone: str = "UTC",
    open311_jurisdiction_id: str | None = None,
    extra_domains: list[str] | None = None,
) -> Tenant:
    """Create a tenant: its schema (cloned from the migrated template), its host and its
    default configuration for its kind. All or nothing: a failure leaves no trace."""
    started = time.monotonic()
    tenant = Tenant(
        schema_name=slug,
        name=name,
        kind=kind,
        timezone=timezone,
        open311_jurisdiction_id=open311_jurisdiction_id or slug,
        # A city's service requests and record are public by nature; every other kind
        # opts in (docs/security.md).
        open311_public_reads=kind == Tenant.Kind.CITY,
        leaderboard_enabled=kind == Tenant.Kind.CITY,
    )
    tenant.full_clean()
    tenant.save(verbosity=0)
    for i, host in enumerate([tenant_domain_for(slug), *(extra_domains or [])]):
        domain = Domain(domain=host, tenant=tenant, is_primary=(i == 0))
        domain.full_clean()
        domain.save()
    tenant_install_defaults(tenant=tenant)
    logger.info(
        "tenant created",
        extra={"slug": slug, "kind": kind, "seconds": round(time.monotonic() - started, 3)},
    )
    return tenant


def tenant_install_defaults(*, tenant: Tenant) -> None:
    """Run the provisioning hooks in the tenant's schema. Each is idempotent, so this also
    brings an existing tenant up to date with defaults added since it was created."""
    with tenant_context(tenant):
        for hook in settings.TENANT_PROVISIONING_HOOKS:
            import_string(hook)(tenant=tenant)


def tenant_set_suspended(*, tenant: Tenant, suspended: bool) -> Tenant:
    """Suspend or reinstate a tenant. Its data stays untouched either way; reinstating
    also cancels a scheduled deletion (tenants.deletion)."""
    changes: dict[str, object] = {"suspended": suspended}
    if not suspended:
        changes["deletion_due_at"] = tenant.deletion_due_at = None
    Tenant.objects.filter(pk=tenant.pk).update(**changes)
    tenant.suspended = suspended
    logger.info("tenant suspension changed", extra={"slug": tenant.slug, "suspended": suspended})
    return tenant


@transaction.atomic
def public_tenant_ensure() -> Tenant:
    """The public schema is a tenant too in django-tenants: it serves the platform site on
    the configured public hosts. Idempotent."""
    public, _ = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(),
        defaults={"name": "CivicPulse", "kind": Tenant.Kind.FACILITY},
    )
    for host in settings.PUBLIC_HOSTS:
        Domain.objects.get_or_create(
            domain=host, defaults={"tenant": public, "is_primary": host == settings.PUBLIC_HOSTS[0]}
        )
    return public


def leaderboard_record(
    *,
    tenant_id: int,
    computed_at: datetime,
    window_days: int,
    reported: int,
    resolved: int,
    compliance: float | None,
    median_hours: float | None,
    score: float | None,
) -> LeaderboardEntry | None:
    """Copy a tenant's whole-tenant score into the public schema for the cross-tenant
    leaderboard, unless the tenant opted out (or is suspended): then nothing leaves its
    schema. Called from inside the tenant's schema; the table is found in `public` on
    the search path."""
    tenant = Tenant.objects.filter(pk=tenant_id).only("kind", "leaderboard_enabled", "suspended").first()
    if tenant is None or not tenant.leaderboard_enabled or tenant.suspended:
        return None
    return LeaderboardEntry.objects.create(
        tenant_id=tenant_id,
        kind=tenant.kind,
        computed_at=computed_at,
        window_days=window_days,
        reported=reported,
        resolved=resolved,
        compliance=compliance,
        median_hours=median_hours,
        score=score,
    )
