"""Beat runs django-celery-beat's database scheduler in its tenant-aware form: an entry
of CELERY_BEAT_SCHEDULE without `tenant_schemas` is sent once into every tenant's schema."""
from types import SimpleNamespace

from celery.beat import ScheduleEntry
from django.conf import settings
from django.db import connection
from tenant_schemas_celery.db_scheduler import TenantAwareDatabaseScheduler

from civicpulse.celery import app


def test_beat_uses_the_tenant_aware_database_scheduler() -> None:
    assert app.conf.beat_scheduler == "tenant_schemas_celery.db_scheduler:TenantAwareDatabaseScheduler"
    assert settings.CELERY_BEAT_SCHEDULE["reports-sweep-stuck"]["schedule"] == 60.0


def test_sweeper_entry_is_sent_into_every_tenant_schema(public_schema, tenant_pair, monkeypatch) -> None:
    # Built without __init__, which would start syncing with the database like a beat
    # process does; the fan-out under test needs none of that.
    scheduler = TenantAwareDatabaseScheduler.__new__(TenantAwareDatabaseScheduler)
    scheduler.app = app
    entries = scheduler._tenant_aware_beat_schedule_to_dict(app.conf.beat_schedule)
    spec = entries["reports-sweep-stuck@__all_tenants_only__"]
    assert spec["options"]["headers"] == {"_all_tenants_only": True}

    sent: list[str] = []

    def send(entry: ScheduleEntry, producer: object = None, advance: bool = True, **kwargs: object) -> SimpleNamespace:
        # What the real send would stamp on the message: the schema it is sent from.
        sent.append(connection.schema_name)
        return SimpleNamespace(id=f"task-{len(sent)}")

    monkeypatch.setattr(scheduler, "apply_async", send)
    entry = ScheduleEntry(name="reports-sweep-stuck", task=spec["task"], schedule=spec["schedule"], options=spec["options"], app=app)
    scheduler.apply_entry(entry)
    assert {"alpha", "beta-hotel"} <= set(sent)
    assert "public" not in sent and len(sent) == len(set(sent))
