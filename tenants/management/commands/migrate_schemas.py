"""`migrate_schemas` that also keeps the template schema new tenants are cloned from
current, and makes sure the public site has its tenant row and hosts."""

from django.conf import settings
from django.db import connection
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.migration_executors import get_executor
from psycopg import sql


class Command(MigrateSchemasCommand):
    def handle(self, *args: object, **options: object) -> None:
        super().handle(*args, **options)
        # Only a full run (no single schema named) touches the template and the public row.
        if options.get("schema_name") or options.get("fake"):
            return
        if self.sync_tenant:
            template = settings.TENANT_TEMPLATE_SCHEMA
            with connection.cursor() as cursor:
                cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(template)))
            executor = get_executor(codename=self.executor)(self.args, self.options)
            executor.run_migrations(tenants=[template])
        if self.sync_public:
            from tenants.services import public_tenant_ensure

            public_tenant_ensure()
