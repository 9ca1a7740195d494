"""Make a benchmark script runnable as `.venv/bin/python bench/NAME.py` from the checkout."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicpulse.settings.dev")
    import django

    django.setup()


def figure(name: str, value: object) -> None:
    """One `name: value` line per figure, the format every benchmark prints."""
    print(f"{name}: {value}", flush=True)


def drop_tenant(slug: str) -> None:
    """Remove a benchmark's tenant: its schema, hosts and row."""
    from django.db import connection, transaction
    from psycopg import sql

    from tenants.models import Tenant

    connection.set_schema_to_public()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(slug)).as_string(cursor.connection)
            )
        Tenant.objects.filter(schema_name=slug).delete()


def kept_or_new_tenant(slug: str, name: str) -> tuple[object, int]:
    """The benchmark's tenant as a previous `--keep` run left it, or a new city; with the
    number of issues it already holds (0: fill it). Call inside no tenant context."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenants.models import Tenant
    from tenants.services import tenant_create

    tenant = Tenant.objects.filter(schema_name=slug).first() or tenant_create(
        slug=slug, name=name, kind="city", timezone="America/Chicago"
    )
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM issues_issue")
        return tenant, cursor.fetchone()[0]
