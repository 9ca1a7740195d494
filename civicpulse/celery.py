"""The one Celery app. Tenant-aware: every task carries the schema it was sent from and
runs in it (tenant-schemas-celery)."""

import os
from typing import TYPE_CHECKING, Any

from celery import Task, signals
from celery.worker import WorkController
from tenant_schemas_celery.app import CeleryApp

if TYPE_CHECKING:
    from civicpulse.core.workers import Heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicpulse.settings.dev")

app = CeleryApp("civicpulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_heartbeat: "Heartbeat | None" = None


@signals.worker_ready.connect
def _start_heartbeat(sender: WorkController, **kwargs: Any) -> None:
    global _heartbeat
    from civicpulse.core.workers import Heartbeat

    queues = [q.name for q in sender.app.amqp.queues.consume_from.values()]
    # The worker's node name (celery@host), which WorkController's stubs do not declare.
    _heartbeat = Heartbeat(getattr(sender, "hostname", "") or "", queues)
    _heartbeat.start()


@signals.worker_shutdown.connect
def _stop_heartbeat(**kwargs: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()


@signals.task_prerun.connect
def _task_log_context(task: Task, task_id: str = "", **kwargs: Any) -> None:
    from civicpulse.core.context import request_id_var, tenant_var

    headers = getattr(task.request, "headers", None) or {}
    tenant_var.set(headers.get("_schema_name") or task.request.get("_schema_name") or "public")
    request_id_var.set(task_id)


@signals.task_prerun.connect
def _drop_broken_connections(**kwargs: Any) -> None:
    """Connections are reused across tasks (CELERY_DB_REUSE_MAX); like Django does at the
    start of each request, drop one that errored or outlived CONN_MAX_AGE first."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()
