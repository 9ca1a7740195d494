"""Provision a tenant from the command line (the platform admin uses the same service)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant: its schema, its host and the default configuration of its kind."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="lower-case letters, digits and hyphens; names the host and schema")
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", required=True, choices=Tenant.Kind.values)
        parser.add_argument("--timezone", default="UTC", help="IANA time zone, e.g. America/Chicago")
        parser.add_argument(
            "--jurisdiction", default=None, help="Open311 jurisdiction id (default: the slug)"
        )

    def handle(
        self, slug: str, name: str, kind: str, timezone: str, jurisdiction: str | None, **options: object
    ) -> None:
        try:
            tenant = tenant_create(
                slug=slug, name=name, kind=kind, timezone=timezone, open311_jurisdiction_id=jurisdiction
            )
        except ValidationError as exc:
            details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(details) from exc
        self.stdout.write(f"created {tenant.slug} at http://{tenant.get_primary_domain()}:8000/")
