"""Re-encrypt every tenant's stored model API key with the first LLM_SECRET_KEY, after a
new key was put first (docs/security.md, "Rotating secrets")."""

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, tenant_context

from llm.services import endpoint_secrets_rotate
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Re-encrypt tenants' model API keys with the first LLM_SECRET_KEY."

    def handle(self, **options: object) -> None:
        total = unreadable = 0
        for tenant in Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("schema_name"):
            with tenant_context(tenant):
                rotated, lost = endpoint_secrets_rotate()
            total += rotated
            unreadable += lost
            if lost:
                self.stderr.write(f"{tenant.schema_name}: {lost} key(s) no configured key can read")
        self.stdout.write(f"rotated: {total}")
        self.stdout.write(f"unreadable: {unreadable}")
