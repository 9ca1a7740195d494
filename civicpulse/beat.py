"""The beat scheduler: django-celery-beat's database scheduler in tenant-schemas-celery's
tenant-aware form, with one fix.

When django-celery-beat reloads the schedule from the database (every few minutes, and on
any change), tenant-schemas-celery stamps `_schema_name: public` on the entries it finds in
the public schema, including those meant for every tenant (`_all_tenants_only`). Sent into
each tenant, such an entry keeps that stamp and runs in `public` instead: the sweeper would
silently stop a few minutes after beat starts. Entries for every tenant must carry no
schema; the fan-out gives each send the schema it is sent from."""

import json

from django_celery_beat.models import PeriodicTask
from tenant_schemas_celery.db_scheduler import TenantAwareDatabaseScheduler


class TenantScheduler(TenantAwareDatabaseScheduler):
    def enabled_models(self) -> list[PeriodicTask]:
        models = super().enabled_models()
        for task in models:
            headers = json.loads(task.headers)
            if headers.get("_all_tenants_only"):
                headers.pop("_schema_name", None)
                task.headers = json.dumps(headers)
        return models
