"""Export a tenant's data now, in this process: a zip of CSV files and the tenant's files
with a manifest (tenants.export). Progress goes to stderr, the zip's path to stdout."""

from django.core.management.base import BaseCommand, CommandError

from tenants.commands import tenant_for_command
from tenants.export import export_path, tenant_export_run
from tenants.models import TenantExport


class Command(BaseCommand):
    help = "Export a tenant's data (CSV per table, photos, manifest.json) to TENANT_EXPORT_ROOT."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")

    def handle(self, slug: str, **options: object) -> None:
        tenant = tenant_for_command(slug)
        export = TenantExport.objects.create(tenant=tenant, requested_by="manage.py")
        done = tenant_export_run(export_id=export.pk, progress=lambda line: self.stderr.write(line))
        if done is None or done.status != TenantExport.Status.DONE:
            raise CommandError(f"Export failed: {done.error if done else 'not started'}")
        self.stderr.write(f"tables: {done.tables}  rows: {done.rows}  files: {done.files}")
        self.stdout.write(str(export_path(done)))
