"""Make a benchmark script runnable as `.venv/bin/python bench/NAME.py` from the checkout."""

import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicpulse.settings.dev")
    import django

    django.setup()


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a web server on the production settings (DEBUG off) with
    throwaway secrets, against the database and Redis this process is set up with."""
    import secrets

    from cryptography.fernet import Fernet
    from django.conf import settings

    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "civicpulse.settings.prod",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "LLM_SECRET_KEY": Fernet.generate_key().decode(),
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: a figure some run really had (None for no runs)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


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
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
                .format(sql.Identifier(slug))
                .as_string(cursor.connection)
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


def cpu_seconds(group: int | None) -> float:
    """CPU time (user and system) of the processes of one process group (a server started
    in a session of its own), or of every PostgreSQL process with group None. Each
    process's children that ended count too (their time goes to the parent that waited
    for them): PostgreSQL backends and gunicorn workers come and go during a run."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if (int(fields[2]) == group) if group is not None else name == "postgres":
            ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")
