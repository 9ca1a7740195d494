"""What management commands share about tenants."""

from django.core.management.base import CommandError
from django_tenants.utils import get_public_schema_name

from tenants.models import Tenant


def tenant_for_command(slug: str, hint: str = "") -> Tenant:
    """The tenant a command names by its slug, or a CommandError saying there is none."""
    tenant = Tenant.objects.filter(schema_name=slug).exclude(schema_name=get_public_schema_name()).first()
    if tenant is None:
        raise CommandError(f"No tenant {slug!r}{f' ({hint})' if hint else ''}.")
    return tenant
