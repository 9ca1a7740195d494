"""Reads on the platform."""
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name

from tenants.models import Tenant


def tenant_directory() -> QuerySet[Tenant]:
    """Tenants shown on the public site: active ones that publish a public page, with
    their primary host prefetched."""
    return (
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .filter(suspended=False, public_page_enabled=True)
        .prefetch_related("domains")
        .order_by("kind", "name")
    )


def tenant_primary_host(tenant: Tenant) -> str | None:
    for domain in tenant.domains.all():
        if domain.is_primary:
            return domain.domain
    return None



