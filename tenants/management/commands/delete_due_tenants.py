"""Delete the tenants whose scheduled deletion has fallen due (beat does this hourly):
their schemas, rows, hosts, files and exports. Prints each deleted slug."""

from django.core.management.base import BaseCommand

from tenants.deletion import tenant_delete_due


class Command(BaseCommand):
    help = "Drop tenants whose deletion grace period has ended."

    def handle(self, **options: object) -> None:
        deleted = tenant_delete_due()
        for slug in deleted:
            self.stdout.write(slug)
        self.stderr.write(f"deleted: {len(deleted)}")
