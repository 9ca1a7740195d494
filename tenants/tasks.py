"""Platform tasks."""

import gc
import socket

from celery import shared_task
from django.apps import apps

from civicpulse.core.tenancy import current_schema, tenant_connection


@shared_task(name="tenants.schema_probe", acks_late=True, ignore_result=False)
def schema_probe() -> dict[str, object]:
    """Answer where the task ran: its schema, its tenant and what that schema holds, and
    how many objects its process keeps out of the garbage collector's walks (frozen when
    the worker started: civicpulse.celery). `manage.py check_workers` sends it to each
    queue to prove the round trip."""
    category = apps.get_model("issues", "Category")
    tenant = tenant_connection().tenant
    on_tenant = current_schema() != "public"
    return {
        "schema": current_schema(),
        "tenant": getattr(tenant, "name", None),
        "categories": category.objects.count() if on_tenant else None,
        "worker": socket.gethostname(),
        "frozen_objects": gc.get_freeze_count(),
    }


@shared_task(name="tenants.export_tenant", ignore_result=True)
def export_tenant(export_id: int) -> None:
    from tenants.export import tenant_export_run

    tenant_export_run(export_id=export_id)


@shared_task(name="tenants.delete_due", ignore_result=True)
def delete_due() -> list[str]:
    # Sent by beat into the public schema only (CELERY_BEAT_SCHEDULE "tenants-delete-due").
    from tenants.deletion import tenant_delete_due

    return tenant_delete_due()
