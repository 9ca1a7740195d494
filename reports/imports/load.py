"""`import_reports`, the one entry point: a file into the current tenant's schema as a new
batch, through a work schema of its own, step by step (reading, checking, standardising,
grouping, writing, and indexing after a bulk load)."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from civicpulse.core.sql import run
from civicpulse.core.tenancy import tenant_connection
from issues.bulk.grouping import grouping_rules_create, rows_group
from issues.bulk.writes import issues_write
from reports.imports.checks import date_functions_create, rejected_rows_write, rows_check
from reports.imports.files import (
    Progress,
    file_checksum,
    file_header,
    staging_column,
    staging_copy,
    staging_create,
)
from reports.imports.formats import FORMATS, MAPPED, REQUIRED, Column, Fields, Mapping
from reports.imports.grouping import source_parents_link
from reports.imports.standardise import addresses_create, categories_create, valid_rows_create
from reports.imports.tables import bulk_load, is_bulk
from reports.imports.writes import locations_write, reports_write
from reports.models import ImportBatch
from tenants.selectors import current_timezone_name


@dataclass(frozen=True)
class ImportResult:
    batch: ImportBatch
    unknown_categories: int

    def summary(self) -> str:
        b = self.batch
        return f"read {b.rows_read}, loaded {b.rows_loaded}, rejected {b.rows_rejected}, skipped {b.rows_skipped} (already imported)"


def import_reports(
    *,
    path: Path,
    fmt: str,
    mapping: Mapping | None = None,
    progress: Progress = lambda n: None,
    phase: Callable[[str], object] = lambda name: None,
) -> ImportResult:
    """Import one file into the current tenant's schema as a new batch. `progress` hears
    of rows as they are read, `phase` of each step after that."""
    fields_of: Callable[[Column], Fields]
    if fmt == MAPPED:
        if mapping is None:
            raise ValueError("the mapped format needs a mapping file (--mapping FILE.yaml)")
        fields_of, explicit, source = mapping.fields, mapping.categories, mapping.source
        required = tuple(mapping.columns[f] for f in ("source_id", "created", "description"))
    elif fmt in FORMATS:
        fields_of, explicit, source, required = FORMATS[fmt], {}, fmt, REQUIRED[fmt]
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join([*FORMATS, MAPPED])}")
    header = file_header(path)
    absent = [c for c in required if c not in header]
    if absent:
        raise ValueError(
            f"{path.name} has no column {', '.join(absent)}: is it a {fmt} file? Its columns: {', '.join(header)[:300]}"
        )
    batch = ImportBatch.objects.create(source_format=fmt, file_name=path.name, checksum=file_checksum(path))
    try:
        with transaction.atomic():
            unknown = _load(
                batch, path, header, fields_of(staging_column(header)), source, explicit, progress, phase
            )
    except Exception as exc:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    batch.refresh_from_db()
    return ImportResult(batch, unknown)


def work_schema(batch: ImportBatch) -> str:
    # Batch numbers are per tenant; the schema name must be unique in the database.
    return f"import_work_{tenant_connection().tenant.pk}_{batch.pk}"


def _session_settings(cursor: CursorWrapper) -> None:
    # Hash joins and sorts of a million rows stay in memory; no JIT compilation (it costs
    # more than it saves on these one-off statements); `MM/DD/YYYY` is month first.
    # Merge joins are off: the planner's guesses about freshly made tables lead it to
    # sort millions of rows on disk instead of hashing. Parallel plans are made cheaper
    # than by default: the planner underrates the per-row parsing that workers share.
    run(
        cursor,
        """SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB'; SET LOCAL jit = off;
           SET LOCAL enable_mergejoin = off; SET LOCAL datestyle = 'ISO, MDY';
           SET LOCAL parallel_setup_cost = 100; SET LOCAL parallel_tuple_cost = 0.01""",
    )


def _load(
    batch: ImportBatch,
    path: Path,
    header: list[str],
    fields: Fields,
    source: str,
    explicit: dict[str, str],
    progress: Progress,
    phase: Callable[[str], object],
) -> int:
    tz = current_timezone_name()  # dates without an offset are the tenant's local time
    with connection.cursor() as cursor:
        _session_settings(cursor)
        # The import's own tables (the file, the checked rows, the points, the links...)
        # are unlogged tables in a schema of this batch's own, not temporary tables:
        # parallel workers cannot read temporary tables. Created in this transaction,
        # they vanish with it if it fails, and are dropped before it commits.
        work = work_schema(batch)
        run(cursor, "CREATE SCHEMA {work}", work=work)
        staging_create(cursor, work, header)
        phase("reading")
        staging_copy(cursor, path, work, header, progress)
        with bulk_load(cursor, is_bulk(cursor, work)) as bulk:
            phase("checking")
            date_functions_create(cursor, work)
            rows_check(cursor, work, fields, tz)
            # Autovacuum never sees tables that live and die in one transaction: without
            # statistics the planner picks nested loops over a million rows.
            run(cursor, "ANALYZE {work}.rows", work=work)
            run(cursor, "SELECT count(*) FROM {work}.rows", work=work)
            read = cursor.fetchone()[0]
            rejected = rejected_rows_write(cursor, work, batch.pk, header)
            run(cursor, "DROP TABLE {work}.staging", work=work)

            phase("standardising")
            unknown = categories_create(cursor, work, explicit)
            grouping_rules_create(cursor, work)
            addresses_create(cursor, work)
            valid_rows_create(cursor, work, source)
            run(
                cursor,
                "SELECT count(*), min(created_at), max(created_at), max(abs(lat)) FROM {work}.valid",
                work=work,
            )
            valid, first, last, max_lat = cursor.fetchone()

            phase("grouping")
            source_parents_link(cursor, work, source)
            rows_group(cursor, work, first=first, last=last, max_lat=max_lat, bulk=bulk)

            phase("writing")
            issues_write(cursor, work)
            loaded = reports_write(cursor, work, batch.pk, source, valid, bulk)
            locations_write(cursor, work)
            run(cursor, "DROP SCHEMA {work} CASCADE", work=work)
            if bulk:
                phase("indexing")
    ImportBatch.objects.filter(pk=batch.pk).update(
        rows_read=read,
        rows_loaded=loaded,
        rows_rejected=rejected,
        rows_skipped=read - rejected - loaded,
        status=ImportBatch.Status.DONE,
        finished_at=timezone.now(),
    )
    return unknown
