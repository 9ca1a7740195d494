"""Beat runs django-celery-beat's database scheduler in its tenant-aware form: an entry
without `tenant_schemas` is sent once into every tenant's schema, also after the schedule
has been reloaded from the database (where it is editable in the platform admin)."""

import json
from types import SimpleNamespace

from django.conf import settings
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from civicpulse.beat import TenantScheduler
from civicpulse.celery import app


def _scheduler() -> TenantScheduler:
    # Built without __init__, which would start syncing with the database like a beat
    # process does; what is under test needs none of that.
    scheduler = TenantScheduler.__new__(TenantScheduler)
    scheduler.app = app
    return scheduler


def _fan_out(scheduler: TenantScheduler, entry: object, monkeypatch) -> list[str]:
    """Run the scheduler's send of a due entry; return the schema each message would carry."""
    from tenant_schemas_celery.task import headers_with_schema

    sent: list[str] = []

    def send(
        entry: object, producer: object = None, advance: bool = True, **kwargs: object
    ) -> SimpleNamespace:
        # What the real send stamps on the message (TenantTask.apply_async does this).
        sent.append(headers_with_schema(dict(entry.options.get("headers") or {}))["_schema_name"])
        return SimpleNamespace(id=f"task-{len(sent)}")

    monkeypatch.setattr(scheduler, "apply_async", send)
    scheduler.apply_entry(entry)
    return sent


def test_beat_uses_the_tenant_scheduler() -> None:
    assert app.conf.beat_scheduler == "civicpulse.beat:TenantScheduler"
    assert settings.CELERY_BEAT_SCHEDULE["reports-sweep-stuck"]["schedule"] == 60.0


def test_sweeper_reaches_every_tenant_also_after_a_reload(public_schema, tenant_pair, monkeypatch) -> None:
    scheduler = _scheduler()
    spec = scheduler._tenant_aware_beat_schedule_to_dict(app.conf.beat_schedule)[
        "reports-sweep-stuck@__all_tenants_only__"
    ]
    assert spec["options"]["headers"] == {"_all_tenants_only": True}
    # As beat installs it in the public schema, then reads it back on a reload.
    PeriodicTask.objects.create(
        name="reports-sweep-stuck@__all_tenants_only__",
        task=spec["task"],
        interval=IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS),
        headers=json.dumps(spec["options"]["headers"]),
    )
    reloaded = next(t for t in scheduler.enabled_models() if t.task == "reports.sweep_stuck")
    assert "_schema_name" not in json.loads(reloaded.headers)

    sent = _fan_out(scheduler, scheduler.Entry(reloaded, app=app), monkeypatch)
    assert {"alpha", "beta-hotel"} <= set(sent)
    assert "public" not in sent and len(sent) == len(set(sent))
    assert connection.schema_name == "public"


def test_sla_is_evaluated_every_quarter_hour_on_the_cpu_queue_in_every_tenant() -> None:
    from celery import current_app

    entry = settings.CELERY_BEAT_SCHEDULE["analytics-sla-evaluate"]
    assert entry == {"task": "analytics.sla_evaluate", "schedule": 900.0, "options": {"queue": "cpu"}}
    assert "tenant_schemas" not in entry
    router = current_app.amqp.router
    assert router.route({}, "analytics.sla_evaluate")["queue"].name == "cpu"
    assert router.route({}, "analytics.sla_notify")["queue"].name == "io"
