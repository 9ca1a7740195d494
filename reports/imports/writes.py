"""Writing the report tables from `{work}.assign`: the reports (their tracking ids made
unique first where no index can), and the Location of each address first seen located."""

from django.db.backends.utils import CursorWrapper
from psycopg import sql

from civicpulse.core.sql import run, run_many
from reports.imports.checks import tracking_sql
from reports.models import new_tracking_id

_REPORTS = """
INSERT INTO reports_report (tracking_id, channel, description, latitude, longitude, address, address_key,
    needs_placement, email, notify, photo, category_id, category_source, severity, summary, classifier,
    classifier_note, status, submitted_at, enqueue_count, attempts, last_error, processed_at, issue_id, match,
    import_batch_id, source, source_id)
SELECT v.tracking_id, 'import', v.description, v.lat, v.lon, v.address, v.address_key,
    false, '', false, '', v.category_id, 'resident', '', left(v.description, 300), 'import',
    '', 'processed', v.created_at, 0, 0, '', now(), v.issue_id, jsonb_build_object('method', v.method),
    %(batch)s, %(source)s, v.source_id
FROM {work}.assign v
{only}
{on_conflict}
"""
# Outside a bulk load the unique index settles tracking-id clashes as rows are written.
_ON_CONFLICT = sql.SQL("ON CONFLICT (tracking_id) DO NOTHING")
_NOT_LOADED = sql.SQL(
    "WHERE NOT EXISTS (SELECT 1 FROM reports_report p WHERE p.source = %(source)s AND p.source_id = v.source_id)"
)


def reports_write(
    cursor: CursorWrapper, work: str, batch_id: int, source: str, expected: int, bulk: bool
) -> int:
    """Insert a report for each row of `{work}.assign`; returns how many (`expected`)."""
    params = {"batch": batch_id, "source": source}
    if bulk:
        # No unique index to arbitrate while the table is being filled: clashes are
        # settled beforehand, and no one else can write under the lock.
        _settle_tracking_clashes(cursor, work)
        run(cursor, _REPORTS, params, work=work, only=sql.SQL(""), on_conflict=sql.SQL(""))
        return cursor.rowcount
    run(cursor, _REPORTS, params, work=work, only=sql.SQL(""), on_conflict=_ON_CONFLICT)
    loaded: int = cursor.rowcount
    # Fifty random bits make a clash with an existing tracking id rare, not impossible:
    # the few rows that met one are given new ids and written again.
    for _ in range(5):
        if loaded >= expected:
            break
        run(cursor, "SELECT line FROM {work}.assign v {missing}", params, work=work, missing=_NOT_LOADED)
        run_many(
            cursor,
            "UPDATE {work}.assign SET tracking_id = %s WHERE line = %s",
            [(new_tracking_id(), line) for (line,) in cursor.fetchall()],
            work=work,
        )
        run(cursor, _REPORTS, params, work=work, only=_NOT_LOADED, on_conflict=_ON_CONFLICT)
        loaded += cursor.rowcount
    if loaded < expected:
        raise RuntimeError(f"{expected - loaded} rows could not be written (tracking ids kept clashing)")
    return loaded


def _settle_tracking_clashes(cursor: CursorWrapper, work: str) -> None:
    """New tracking ids for the rows whose id an earlier row of the file or a report
    already holds, until none does (two hash passes; almost always nothing to do)."""
    for _ in range(5):
        run(
            cursor,
            """UPDATE {work}.assign v SET tracking_id = {tracking}
               WHERE v.line IN (
                   SELECT x.line FROM {work}.assign x
                   JOIN (SELECT tracking_id, min(line) AS first FROM {work}.assign GROUP BY tracking_id
                         HAVING count(*) > 1) d ON d.tracking_id = x.tracking_id AND x.line <> d.first
                   UNION ALL
                   SELECT x.line FROM {work}.assign x JOIN reports_report p ON p.tracking_id = x.tracking_id)""",
            work=work,
            tracking=tracking_sql(sql.SQL("uuid_send(gen_random_uuid())")),
        )
        if cursor.rowcount == 0:
            return
    raise RuntimeError("tracking ids kept clashing")


def locations_write(cursor: CursorWrapper, work: str) -> None:
    """Where each address is: the first located row of each, unless known already. Keys
    are inserted in order and conflicts are ignored, so two imports sharing addresses
    wait for each other at most, never deadlock, never duplicate. An import is the city's
    own record, loaded by its operator: trusted like staff placement for an address not
    yet known (source `import`), but it never moves a known point; only staff do
    (reports.services.locations)."""
    run(
        cursor,
        """INSERT INTO reports_location (address_key, address, number, direction, street, street_type, unit, zip,
               latitude, longitude, source, created_at)
           SELECT DISTINCT ON (a.key) a.key, v.address, a.number, a.direction, a.street, a.std_type,
               a.unit, a.zip, v.lat, v.lon, 'import', now()
           -- The first located row of each way of writing the address, then of each key:
           -- two small sorts instead of one over every row.
           FROM (SELECT DISTINCT ON (address_ref) address_ref, address, lat, lon, created_at, line
                 FROM {work}.assign WHERE lat IS NOT NULL AND address_ref IS NOT NULL
                 ORDER BY address_ref, created_at, line) v
           JOIN {work}.addresses a ON a.id = v.address_ref
           WHERE a.key <> ''
           ORDER BY a.key, v.created_at, v.line
           ON CONFLICT (address_key) DO NOTHING""",
        work=work,
    )
