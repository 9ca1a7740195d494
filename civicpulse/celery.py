"""The one Celery app. Tenant-aware: every task carries the schema it was sent from and
runs in it (tenant-schemas-celery)."""

import gc
from typing import TYPE_CHECKING, Any

from celery import Task, signals
from celery.worker import WorkController
from django.core.exceptions import ImproperlyConfigured
from tenant_schemas_celery.app import CeleryApp

from civicpulse.environment import development_refuse_unless_debug, settings_module_choose

if TYPE_CHECKING:
    from civicpulse.core.workers import Heartbeat

# .env first, then the settings it names (development settings only when nothing says).
settings_module_choose()

app = CeleryApp("civicpulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_heartbeat: "Heartbeat | None" = None


def _refuse_development(process: str) -> None:
    try:
        development_refuse_unless_debug(process)
    except ImproperlyConfigured as exc:
        # Celery logs and swallows a receiver's exceptions; only SystemExit stops the start.
        raise SystemExit(str(exc)) from exc


@signals.celeryd_init.connect
def _refuse_development_worker(**kwargs: Any) -> None:
    # A worker on the development settings would mail to the console and run with the
    # published secret key: only when DEBUG is explicitly on (make run).
    _refuse_development("a Celery worker")


@signals.import_modules.connect
def _refuse_development_beat(**kwargs: Any) -> None:
    # Sent when a worker or beat loads the task modules: for beat, the first moment, before
    # its database scheduler touches the database (beat_init comes after that).
    _refuse_development("a Celery worker or beat")


@signals.worker_init.connect
def _freeze_what_is_loaded(**kwargs: Any) -> None:
    # Sent once Django is set up and the task modules are imported, before the pool starts
    # (prefork's processes fork after it and inherit the freeze) and before any task runs:
    # a cycle frozen while a task is in flight would never be collected. What is loaded
    # by now lives as long as the process, and kept out of the collector's reach, a full
    # collection walks only what came after: in an io worker draining a backlog, each one
    # walked over 200,000 objects, stopped every thread for about 120 ms and took 3-4 % of
    # its CPU; frozen, a tenth of a per cent (docs/performance.md, "The workers freeze
    # what they loaded"). As the web processes do (gunicorn_conf.post_worker_init).
    gc.collect()  # the garbage of loading, so none of it is frozen
    gc.freeze()


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
