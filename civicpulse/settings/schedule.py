"""What beat runs (CELERY_BEAT_SCHEDULE in base.py): plain data, kept apart so the settings
stay readable. Task names are the tasks' explicit `name=`; queues are `io` (network-bound)
and `cpu` (aggregation)."""

# Entries without `tenant_schemas` run in every tenant's schema; editable in the
# platform admin (django-celery-beat) once beat has installed them.
BEAT_SCHEDULE: dict[str, dict] = {
    "reports-sweep-stuck": {"task": "reports.sweep_stuck", "schedule": 60.0, "options": {"queue": "io"}},
    "reports-notify-sweep": {"task": "reports.notify_sweep", "schedule": 600.0, "options": {"queue": "io"}},
    "reports-retention-sweep": {
        "task": "reports.retention_sweep",
        "schedule": 86400.0,
        "options": {"queue": "io"},
    },
    "llm-retrain-classifier": {
        "task": "llm.retrain_classifier",
        "schedule": 3600.0,
        "options": {"queue": "cpu"},
    },
    "analytics-sla-evaluate": {
        "task": "analytics.sla_evaluate",
        "schedule": 900.0,
        "options": {"queue": "cpu"},
    },
    "analytics-scores-compute": {
        "task": "analytics.scores_compute",
        "schedule": 3600.0,
        "options": {"queue": "cpu"},
    },
    "analytics-rules-evaluate": {
        "task": "analytics.rules_evaluate",
        "schedule": 3600.0,
        "options": {"queue": "cpu"},
    },
    # City records downloaded from their Socrata portal, one entry per dataset (each a
    # no-op in a tenant without an active RecordSource for it); daily, incremental.
    **{
        f"analytics-records-fetch-{dataset}": {
            "task": "analytics.records_fetch",
            "schedule": 86400.0,
            "kwargs": {"dataset": dataset},
            "options": {"queue": "io"},
        }
        for dataset in ("violations", "inspections", "permits", "311", "tax_sales", "vacant_buildings")
    },
}
# Tenants scheduled for deletion whose grace period has ended are dropped (public schema only).
BEAT_SCHEDULE["tenants-delete-due"] = {
    "task": "tenants.delete_due",
    "schedule": 3600.0,
    "options": {"queue": "io"},
    "tenant_schemas": ["public"],
}
