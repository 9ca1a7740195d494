"""Re-encrypt every tenant's stored Socrata app tokens with the first LLM_SECRET_KEY, after
a new key was put first (docs/security.md, "Rotating secrets"); rotate_llm_secrets does
the same for the model keys."""

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, tenant_context

from analytics.records.sources import record_source_secrets_rotate
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Re-encrypt tenants' record sources' app tokens with the first LLM_SECRET_KEY."

    def handle(self, **options: object) -> None:
        total = unreadable = 0
        for tenant in Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("schema_name"):
            with tenant_context(tenant):
                rotated, lost = record_source_secrets_rotate()
            total += rotated
            unreadable += lost
            if lost:
                self.stderr.write(f"{tenant.schema_name}: {lost} token(s) no configured key can read")
        self.stdout.write(f"rotated: {total}")
        self.stdout.write(f"unreadable: {unreadable}")
