"""Create an API key for a tenant and print it (only it, so scripts can capture it)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from civicpulse.apikeys.services import api_key_create
from tenants.commands import tenant_for_command


class Command(BaseCommand):
    help = "Create an API key for a tenant; prints the key, which is not stored and cannot be shown again."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scopes", default="submit,read", help="comma-separated: submit, read, staff, property, location"
        )

    def handle(self, slug: str, name: str, scopes: str, **options: object) -> None:
        tenant = tenant_for_command(slug)
        with tenant_context(tenant):
            try:
                _, key = api_key_create(name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()])
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(key)
