"""An issue's row as a report joining it reads and writes it: the few columns the join
changes, locked and read by one small statement, and written back by another.

Grouping does this for every report that joins an issue. Through the ORM, the lock read
the whole row (the issue's text and embedding among it) into a full instance, and the
save compiled its UPDATE each time: 0.14-0.16 ms of an io worker's CPU per report drained
(15 % of it), against 0.055 ms so (docs/performance.md, "The workers freeze what they
loaded")."""

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from issues.models import Issue

# What a join reads, and what it may change. Read by a statement of its own, a value does
# not go through its field's from_db_value: a field that has one (JSON) is not for here.
_READ = ("status", "severity", "latitude", "longitude", "report_count", "last_report_at")
_WRITTEN = ("severity", "latitude", "longitude", "report_count", "last_report_at", "updated_at")
# from_db takes the values in the model's field order, and defers the fields left out.
_READ_FIELDS = [f for f in Issue._meta.concrete_fields if f.primary_key or f.attname in _READ]
_LOCK_SQL = (
    f"SELECT {', '.join(f.column for f in _READ_FIELDS)} FROM {Issue._meta.db_table}"
    f" WHERE {Issue._meta.pk.column} = %s FOR UPDATE"
)
_WRITTEN_FIELDS = [f for f in Issue._meta.concrete_fields if f.attname in _WRITTEN]
_WRITE_SQL = (
    f"UPDATE {Issue._meta.db_table} SET {', '.join(f'{f.column} = %s' for f in _WRITTEN_FIELDS)}"
    f" WHERE {Issue._meta.pk.column} = %s"
)


def issue_lock_for_join(*, issue_id: int) -> Issue | None:
    """The issue, locked until the transaction ends, with the fields a join reads (any
    other is read by a query of its own when first used); None when there is no such
    issue. In a transaction only, as select_for_update(): outside one the lock would end
    at once."""
    if not connection.in_atomic_block:
        raise TransactionManagementError("an issue is locked for a join inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, [issue_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return Issue.from_db(DEFAULT_DB_ALIAS, [f.attname for f in _READ_FIELDS], row)


def issue_join_save(*, issue: Issue) -> None:
    """Write what a join changed on an issue `issue_lock_for_join` gave, stamping
    `updated_at` as the model's own save does; through save() when a receiver listens to
    an issue's pre_save or post_save, which this statement would not send."""
    if pre_save.has_listeners(Issue) or post_save.has_listeners(Issue):
        issue.save(update_fields=list(_WRITTEN))
        return
    issue.updated_at = timezone.now()
    values = [f.get_db_prep_save(getattr(issue, f.attname), connection) for f in _WRITTEN_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_SQL, [*values, issue.pk])
