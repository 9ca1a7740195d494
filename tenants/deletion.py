"""Deleting a tenant, after a grace period.

The platform admin schedules the deletion, confirming it by typing the tenant's slug: the
tenant is suspended at once (it answers 403 and keeps all of its data) and its deletion
falls due TENANT_DELETION_GRACE_DAYS later. Until then, reinstating the tenant or
cancelling the deletion keeps everything. Once due, beat (`tenants.delete_due`, hourly)
or `manage.py delete_due_tenants` drops the schema, the tenant's row and hosts, its files
and its exports.
"""

import logging
import shutil
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from civicpulse.core.tenancy import tenant_connection
from tenants.export import tenant_media_root
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def _actor_name(actor: Any) -> str:
    return getattr(actor, "username", "") or ""


@transaction.atomic
def tenant_deletion_schedule(*, tenant: Tenant, confirm_slug: str, actor: Any = None) -> Tenant:
    """Suspend the tenant and schedule its deletion after the grace period. The operator
    confirms by typing the slug; anything else changes nothing."""
    if tenant.schema_name == get_public_schema_name():
        raise ValidationError("The public schema is not a tenant and cannot be deleted.")
    if confirm_slug.strip() != tenant.schema_name:
        raise ValidationError(f"Type the slug {tenant.schema_name!r} exactly to confirm.")
    due = timezone.now() + timedelta(days=settings.TENANT_DELETION_GRACE_DAYS)
    Tenant.objects.filter(pk=tenant.pk).update(suspended=True, deletion_due_at=due)
    tenant.suspended, tenant.deletion_due_at = True, due
    logger.warning(
        "tenant deletion scheduled",
        extra={"slug": tenant.schema_name, "due": due.isoformat(), "actor": _actor_name(actor)},
    )
    return tenant


@transaction.atomic
def tenant_deletion_cancel(*, tenant: Tenant, actor: Any = None) -> Tenant:
    """Keep the tenant after all. It stays suspended until reinstated."""
    Tenant.objects.filter(pk=tenant.pk).update(deletion_due_at=None)
    tenant.deletion_due_at = None
    logger.warning(
        "tenant deletion cancelled", extra={"slug": tenant.schema_name, "actor": _actor_name(actor)}
    )
    return tenant


def _remove_files(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def tenant_delete_due(*, now: datetime | None = None) -> list[str]:
    """Delete every suspended tenant whose deletion has fallen due; returns their slugs.
    Each tenant goes in its own transaction, locked and checked again, so a reinstatement
    at the same moment wins; files go only once the database has committed."""
    now = now or timezone.now()
    deleted: list[str] = []
    due = Tenant.objects.filter(deletion_due_at__lte=now, suspended=True).exclude(
        schema_name=get_public_schema_name()
    )
    for pk in due.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            tenant = Tenant.objects.select_for_update().filter(pk=pk).first()
            if (
                tenant is None
                or not tenant.suspended
                or not tenant.deletion_due_at
                or tenant.deletion_due_at > now
            ):
                continue
            slug = tenant.schema_name
            # Its uploaded files, and its exports (all under one folder named after it).
            files = [tenant_media_root(tenant), Path(settings.TENANT_EXPORT_ROOT) / slug]
            # django-tenants drops a schema only from the public schema or its own.
            tenant_connection().set_schema_to_public()
            with connection.cursor() as cursor:
                # Deferred foreign-key checks still pending in the surrounding transaction
                # would make PostgreSQL refuse to drop their tables: run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            tenant.delete(force_drop=True)
            transaction.on_commit(partial(_remove_files, files))
        deleted.append(slug)
        logger.warning("tenant deleted", extra={"slug": slug})
    return deleted
