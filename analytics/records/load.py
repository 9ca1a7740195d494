"""`import_records`, the one entry point: a record file into the current tenant's schema
as a new batch, on the import machinery of reports.imports (COPY into a staging table in
a work schema of the batch's own, set-based checks, rejected rows kept whole with their
reason, an ImportBatch in the console). Re-importing loads nothing twice: a row already
loaded with the same source id and the same values is skipped; one with changed values
is a correction, loaded as a new row. 311 requests go to the platform's own import."""

from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from analytics.records.checks import functions_create, rows_check
from analytics.records.datasets import DATASETS, REQUESTS_311, SPECS
from analytics.records.formats import MAPPED, Columns, RecordMapping, format_fields, header_name
from analytics.records.writes import (
    addresses_create,
    keyed_create_unlocated,
    locations_write,
    parcels_write,
    records_write,
    table_analyze_if_grown,
    valid_rows_create,
)
from civicpulse.core.sql import run
from reports.imports.checks import rejected_rows_write
from reports.imports.files import (
    Progress,
    file_checksum,
    file_header,
    staging_column,
    staging_copy,
    staging_create,
)
from reports.imports.formats import Mapping
from reports.imports.load import import_reports, work_schema
from reports.models import ImportBatch

# The format each dataset is read in unless told otherwise.
DEFAULT_FORMATS = {
    "violations": "chicago",
    "inspections": "chicago",
    "permits": "chicago",
    "vacant_buildings": "chicago",
    "tax_sales": "cook_county",
    REQUESTS_311: "chicago",
}


def summary_line(batch: ImportBatch) -> str:
    return (
        f"read {batch.rows_read}, loaded {batch.rows_loaded}, rejected {batch.rows_rejected}, "
        f"skipped {batch.rows_skipped} (already imported)"
    )


def import_records(
    *,
    path: Path,
    dataset: str,
    fmt: str | None = None,
    mapping_path: Path | None = None,
    batch_format: str | None = None,
    progress: Progress = lambda n: None,
    phase: Callable[[str], object] = lambda name: None,
) -> ImportBatch:
    """Load one file of `dataset` into the current tenant's schema as a new batch and
    return it. `batch_format` names the batch's source format when it is not the file's
    (a download: `socrata`)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; use one of {', '.join(DATASETS)}")
    fmt = fmt or DEFAULT_FORMATS[dataset]
    if dataset == REQUESTS_311:
        return _import_311(path, fmt, mapping_path, batch_format, progress, phase)
    spec = SPECS[dataset]
    mapping = RecordMapping.load(mapping_path) if fmt == MAPPED and mapping_path else None
    raw_header = file_header(path)
    header = [header_name(h) for h in raw_header]
    # Checked before the batch exists: a wrong file or format leaves no trace.
    fields = format_fields(fmt, dataset, Columns(header, staging_column(header)), mapping)
    source = mapping.source if mapping else f"{fmt}:{dataset}"
    batch = ImportBatch.objects.create(
        source_format=batch_format or fmt,
        dataset=dataset,
        file_name=path.name[:500],
        checksum=file_checksum(path),
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            run(
                cursor,
                "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off; SET LOCAL parallel_setup_cost = 100; "
                "SET LOCAL parallel_tuple_cost = 0.01",
            )
            work = work_schema(batch)
            run(cursor, "CREATE SCHEMA {work}", work=work)
            staging_create(cursor, work, header)
            phase("reading")
            staging_copy(cursor, path, work, header, progress)
            phase("checking")
            functions_create(cursor, work)
            rows_check(cursor, work, spec, fields, has_id="source_id" in fields)
            run(cursor, "SELECT count(*) FROM {work}.rows", work=work)
            read = cursor.fetchone()[0]
            rejected = rejected_rows_write(cursor, work, batch.pk, raw_header)
            phase("standardising")
            valid_rows_create(cursor, work, spec, source)
            created = 0
            if spec.located:
                addresses_create(cursor, work)
                phase("writing")
                created = locations_write(cursor, work)
            else:
                keyed_create_unlocated(cursor, work)
                phase("writing")
            # Parcels first: a tax sale's location is its parcel's.
            parcels = parcels_write(cursor, work, spec)
            loaded = records_write(cursor, work, spec, source, batch.pk)
            table_analyze_if_grown(cursor, spec.table, loaded)
            table_analyze_if_grown(cursor, "reports_location", created)
            table_analyze_if_grown(cursor, "analytics_parcel", parcels)
            run(cursor, "DROP SCHEMA {work} CASCADE", work=work)
    except Exception as exc:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    ImportBatch.objects.filter(pk=batch.pk).update(
        rows_read=read,
        rows_loaded=loaded,
        rows_rejected=rejected,
        rows_skipped=read - rejected - loaded,
        status=ImportBatch.Status.DONE,
        finished_at=timezone.now(),
    )
    batch.refresh_from_db()
    return batch


def _import_311(
    path: Path,
    fmt: str,
    mapping_path: Path | None,
    batch_format: str | None,
    progress: Progress,
    phase: Callable[[str], object],
) -> ImportBatch:
    """311 requests are reports: the platform's import (format chicago311, or a YAML
    mapping of its own kind), its batch marked as the 311 dataset's."""
    if fmt == MAPPED:
        if mapping_path is None:
            raise ValueError("the mapped format needs a mapping file (--mapping FILE.yaml)")
        result = import_reports(
            path=path, fmt=MAPPED, mapping=Mapping.load(mapping_path), progress=progress, phase=phase
        )
    elif fmt in ("chicago", "chicago311"):
        result = import_reports(path=path, fmt="chicago311", progress=progress, phase=phase)
    else:
        raise ValueError(f"311 requests come in the chicago format or a mapping, not {fmt!r}")
    ImportBatch.objects.filter(pk=result.batch.pk).update(
        dataset=REQUESTS_311, **({"source_format": batch_format} if batch_format else {})
    )
    result.batch.refresh_from_db()
    return result.batch
