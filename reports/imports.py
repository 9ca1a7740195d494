"""Bulk import of open-data 311 exports: COPY into a staging table, then set-based SQL
with the intake's rules. Imported reports are born `processed` with their issues; the
live pipeline and the sweeper never see them.

Formats: `publicstuff` (PublicStuff export: Unix-second dates, no closing time) and
`chicago311` (City of Chicago "311 Service Requests": `MM/DD/YYYY hh:mm:ss AM` or ISO
8601 dates in the tenant's time zone, PARENT_SR_NUMBER / DUPLICATE grouping).
"""
import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from issues.models import Category
from llm.offline import classify_offline
from llm.types import CategoryInfo
from reports.addresses import standardise_address
from reports.models import ImportBatch, new_tracking_id

# Canonical staging columns every format is mapped to (all text until SQL parses them).
COLUMNS = ("source_id", "created", "closed", "status", "category", "description", "address",
           "latitude", "longitude", "parent_id", "duplicate")


def _publicstuff(row: dict[str, str]) -> dict[str, str]:
    return {
        "source_id": row.get("id", ""), "created": row.get("date created", ""), "closed": "",
        "status": row.get("status", ""), "category": row.get("title", ""),
        "description": row.get("description", "") or row.get("title", ""), "address": row.get("address", ""),
        "latitude": row.get("latitude", ""), "longitude": row.get("longitude", ""), "parent_id": "", "duplicate": "",
    }


def _chicago311(row: dict[str, str]) -> dict[str, str]:
    address = ", ".join(p for p in (row.get("street_address", ""), row.get("city", ""), row.get("zip_code", "")) if p)
    return {
        "source_id": row.get("sr_number", ""), "created": row.get("created_date", ""),
        "closed": row.get("closed_date", ""), "status": row.get("status", ""), "category": row.get("sr_type", ""),
        # The portal has no free text: the request type is what the resident asked for.
        "description": row.get("sr_type", ""), "address": address,
        "latitude": row.get("latitude", ""), "longitude": row.get("longitude", ""),
        "parent_id": row.get("parent_sr_number", ""), "duplicate": row.get("duplicate", ""),
    }


FORMATS: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "publicstuff": _publicstuff,
    "chicago311": _chicago311,
}
MAPPED = "mapped"


@dataclass(frozen=True)
class Mapping:
    """A YAML file mapping any CSV to the report fields:

        columns:            # report field: the file's column (case does not matter)
          source_id: Request ID
          created: Opened
          closed: Closed          # optional
          status: State           # optional
          category: Type          # optional
          description: Details    # or the category column again
          address: Location       # address, or latitude + longitude, or all three
          latitude: Lat
          longitude: Lon
          parent_id: Duplicate Of # optional
        categories:         # optional: the file's values to the tenant's category codes
          Pothole: potholes
    """

    columns: dict[str, str]
    categories: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> "Mapping":
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path.name}: not valid YAML ({exc})") from exc
        columns = {str(k): str(v).strip().lower() for k, v in (data.get("columns") or {}).items()}
        unknown = sorted(set(columns) - set(COLUMNS))
        if unknown:
            raise ValueError(f"{path.name}: unknown report fields {', '.join(unknown)}; use {', '.join(COLUMNS)}")
        missing = [f for f in ("source_id", "created", "description") if f not in columns]
        if missing:
            raise ValueError(f"{path.name}: map {', '.join(missing)} to a column")
        if "address" not in columns and not {"latitude", "longitude"} <= set(columns):
            raise ValueError(f"{path.name}: map address, or latitude and longitude")
        categories = {str(k): str(v) for k, v in (data.get("categories") or {}).items()}
        return cls(columns, categories)

    def row(self, row: dict[str, str]) -> dict[str, str]:
        return {field: row.get(self.columns[field], "") if field in self.columns else "" for field in COLUMNS}
# Source statuses (lower case) to issue statuses; anything else is open.
STATUSES = {
    "received": "open", "open": "open", "in progress": "in_progress", "completed": "resolved",
    "completed - dup": "closed", "closed": "closed", "canceled": "closed", "cancelled": "closed",
}


@dataclass(frozen=True)
class ImportResult:
    batch: ImportBatch
    unknown_categories: int

    def summary(self) -> str:
        b = self.batch
        return f"read {b.rows_read}, loaded {b.rows_loaded}, rejected {b.rows_rejected}, skipped {b.rows_skipped} (already imported)"


def _open(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if gzipped else path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _staged_rows(
    path: Path, mapper: Callable[[dict[str, str]], dict[str, str]], progress: Callable[[int], None]
) -> Iterator[tuple]:
    with _open(path) as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        for line, values in enumerate(reader, start=2):
            row = dict(zip(header, values))
            canon = mapper(row)
            yield (line, *(canon[c].strip() for c in COLUMNS), new_tracking_id(), json.dumps(row))
            if line % 10_000 == 0:
                progress(10_000)


def _category_map(raw_values: list[str], explicit: dict[str, str]) -> tuple[dict[str, int], int]:
    """Each distinct source category to one of the tenant's: as the mapping file says, by
    code or name, else by the offline classifier on the source's wording; what matches
    nothing becomes `other` (and is counted)."""
    categories = list(Category.objects.filter(active=True))
    infos = [CategoryInfo(c.code, c.name, c.description, tuple(c.keywords), c.default_severity) for c in categories]
    by_code = {c.code: c for c in categories}
    by_name = {c.name.lower(): c for c in categories}
    other = by_code.get("other")
    mapping, unknown = {}, 0
    for raw in raw_values:
        hit = by_code.get(explicit.get(raw, "")) or by_code.get(raw.lower().replace(" ", "_")) or by_name.get(raw.lower())
        if hit is None:
            guess = classify_offline(raw, infos)
            hit = by_code.get(guess.category) if guess.confidence > 0.1 else None
        if hit is None:
            hit, unknown = other, unknown + 1
        if hit is not None:
            mapping[raw] = hit.pk
    return mapping, unknown


_PARSE_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.try_ts(value text, tz text) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
    -- Unix seconds (PublicStuff).
    IF value ~ '^\\d{9,11}$' THEN RETURN to_timestamp(value::bigint); END IF;
    -- The Chicago portal's CSV: local wall-clock time in the tenant's zone.
    IF value ~ '^\\d{1,2}/\\d{1,2}/\\d{4} \\d{1,2}:\\d{2}:\\d{2} [AaPp][Mm]$' THEN
        RETURN to_timestamp(value, 'MM/DD/YYYY HH12:MI:SS AM')::timestamp AT TIME ZONE tz;
    END IF;
    -- ISO 8601: with an offset as written, without one in the tenant's zone.
    IF value ~ '^\\d{4}-\\d{2}-\\d{2}' THEN
        IF value ~ '(Z|[+-]\\d{2}(:?\\d{2})?)$' THEN RETURN value::timestamptz; END IF;
        RETURN value::timestamp AT TIME ZONE tz;
    END IF;
    RETURN NULL;
EXCEPTION WHEN others THEN RETURN NULL;  -- 13/45/2024 and the like: rejected, not fatal
END $$;
CREATE TEMP TABLE import_rows ON COMMIT DROP AS
SELECT s.*, pg_temp.try_ts(s.created, %(tz)s) AS created_at,
       CASE WHEN s.closed = '' THEN NULL ELSE pg_temp.try_ts(s.closed, %(tz)s) END AS closed_at,
       CASE WHEN s.latitude ~ '^-?\\d+(\\.\\d+)?$' THEN s.latitude::float8 END AS lat,
       CASE WHEN s.longitude ~ '^-?\\d+(\\.\\d+)?$' THEN s.longitude::float8 END AS lon,
       NULL::text AS reason, NULL::bigint AS issue_id
FROM import_staging s;
UPDATE import_rows SET reason = CASE
    WHEN source_id = '' THEN 'no source id'
    WHEN created_at IS NULL THEN 'unreadable creation date: ' || left(created, 40)
    WHEN closed <> '' AND closed_at IS NULL THEN 'unreadable closing date: ' || left(closed, 40)
    WHEN description = '' THEN 'no description'
    WHEN (latitude <> '' AND (lat IS NULL OR lat NOT BETWEEN -90 AND 90))
      OR (longitude <> '' AND (lon IS NULL OR lon NOT BETWEEN -180 AND 180)) THEN 'coordinates out of range'
    WHEN (lat IS NULL) <> (lon IS NULL) THEN 'latitude and longitude must come together'
    WHEN lat IS NULL AND address = '' THEN 'no point and no address'
END;
CREATE INDEX ON import_rows (source_id);
-- Temporary tables are never analysed on their own: without statistics the planner
-- picks nested loops over a million rows.
ANALYZE import_rows;
"""


def import_reports(
    *, path: Path, fmt: str, mapping: Mapping | None = None, progress: Callable[[int], None] = lambda n: None
) -> ImportResult:
    """Import one file into the current tenant's schema as a new batch. `mapped` needs a
    Mapping; its source ids share one id space per mapping file name."""
    if fmt == MAPPED:
        if mapping is None:
            raise ValueError("the mapped format needs a mapping file (--mapping FILE.yaml)")
        mapper, explicit = mapping.row, mapping.categories
    elif fmt in FORMATS:
        mapper, explicit = FORMATS[fmt], {}
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join([*FORMATS, MAPPED])}")
    batch = ImportBatch.objects.create(source_format=fmt, file_name=path.name, checksum=_checksum(path))
    try:
        with transaction.atomic():
            unknown = _load(batch, path, fmt, mapper, explicit, progress)
    except Exception as exc:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    batch.refresh_from_db()
    return ImportResult(batch, unknown)


def _load(
    batch: ImportBatch, path: Path, fmt: str, mapper: Callable[[dict[str, str]], dict[str, str]],
    explicit: dict[str, str], progress: Callable[[int], None],
) -> int:
    tz = connection.tenant.timezone  # dates without an offset are the tenant's local time
    with connection.cursor() as cursor:
        # Temporary tables go at commit; dropped here too, for an import inside a larger
        # transaction (or a second one in it).
        cursor.execute("DROP TABLE IF EXISTS import_staging, import_rows, import_categories, import_addresses")
        cursor.execute(
            "CREATE TEMP TABLE import_staging (line int, " + ", ".join(f"{c} text" for c in COLUMNS)
            + ", tracking_id text, raw jsonb) ON COMMIT DROP"
        )
        with cursor.cursor.copy(
            "COPY import_staging (line, " + ", ".join(COLUMNS) + ", tracking_id, raw) FROM STDIN"
        ) as copy:
            for row in _staged_rows(path, mapper, progress):
                copy.write_row(row)
        cursor.execute(_PARSE_SQL, {"tz": tz})
        cursor.execute("SELECT count(*) FROM import_rows")
        read = cursor.fetchone()[0]
        cursor.execute(
            """INSERT INTO reports_rejectedrow (batch_id, line, source_id, reason, raw)
               SELECT %s, line, source_id, reason, raw FROM import_rows WHERE reason IS NOT NULL""",
            [batch.pk],
        )
        rejected = cursor.rowcount
        # One row per source id (exports repeat rows), then leave out what earlier
        # batches loaded.
        cursor.execute(
            """DELETE FROM import_rows r USING import_rows d
               WHERE r.reason IS NULL AND d.reason IS NULL AND r.source_id = d.source_id AND r.line > d.line"""
        )
        duplicates = cursor.rowcount
        cursor.execute(
            """DELETE FROM import_rows r USING reports_report p
               WHERE r.reason IS NULL AND p.source = %s AND p.source_id = r.source_id""",
            [fmt],
        )
        skipped = cursor.rowcount + duplicates
        cursor.execute("DELETE FROM import_rows WHERE reason IS NOT NULL")

        _standardise_addresses(cursor)
        cursor.execute("SELECT DISTINCT category FROM import_rows")
        mapping, unknown = _category_map([r[0] for r in cursor.fetchall()], explicit)
        cursor.execute("CREATE TEMP TABLE import_categories (raw text, category_id bigint) ON COMMIT DROP")
        cursor.executemany("INSERT INTO import_categories VALUES (%s, %s)", list(mapping.items()))

        _group(cursor, fmt)
        statuses = sql.SQL(" ").join(
            sql.SQL("WHEN {} THEN {}").format(sql.Literal(k), sql.Literal(v)) for k, v in STATUSES.items()
        )
        cursor.execute(
            sql.SQL(
                """INSERT INTO issues_issue (id, title, summary, text, category_id, department_id, severity, status,
                       latitude, longitude, address_key, report_count, created_at, last_report_at,
                       acknowledged_at, resolved_at, closed_at, updated_at)
                   SELECT r.issue_id, left(r.description, 200), left(r.description, 300), r.description,
                       c.id, c.department_id, COALESCE(c.default_severity, 'medium'), s.status,
                       r.lat, r.lon, CASE WHEN r.lat IS NULL THEN r.address_key ELSE '' END,
                       k.n, r.created_at, k.last, NULL,
                       -- A closing time only where the source has one: never a made-up one.
                       CASE WHEN s.status IN ('resolved', 'closed') THEN r.closed_at END,
                       CASE WHEN s.status = 'closed' THEN r.closed_at END, now()
                   FROM import_rows r
                   LEFT JOIN import_categories m ON m.raw = r.category
                   LEFT JOIN issues_category c ON c.id = m.category_id
                   CROSS JOIN LATERAL (SELECT CASE lower(r.status) {} ELSE 'open' END AS status) s
                   -- Counted here, so new issues are written once, not inserted then updated.
                   JOIN (SELECT issue_id, count(*) AS n, max(created_at) AS last FROM import_rows GROUP BY issue_id) k
                     ON k.issue_id = r.issue_id
                   WHERE r.root = r.source_id AND r.issue_id NOT IN (SELECT id FROM issues_issue)"""
            ).format(statuses).as_string(cursor.connection)
        )
        cursor.execute(
            """INSERT INTO reports_report (tracking_id, channel, description, latitude, longitude, address, address_key,
                   needs_placement, email, notify, photo, category_id, category_source, severity, summary, classifier,
                   status, submitted_at, enqueue_count, attempts, last_error, processed_at, issue_id, match,
                   import_batch_id, source, source_id)
               SELECT r.tracking_id, 'import', r.description, r.lat, r.lon, r.address, r.address_key,
                   false, '', false, '', m.category_id, 'resident', '', left(r.description, 300), 'import',
                   'processed', r.created_at, 0, 0, '', now(), r.issue_id,
                   jsonb_build_object('method', r.link),
                   %s, %s, r.source_id
               FROM import_rows r LEFT JOIN import_categories m ON m.raw = r.category""",
            [batch.pk, fmt],
        )
        loaded = cursor.rowcount
        # Where each address is: the first located row of each, unless known already.
        # Keys are inserted in order and conflicts are ignored, so two imports sharing
        # addresses wait for each other at most, never deadlock, never duplicate.
        cursor.execute(
            """INSERT INTO reports_location (address_key, address, number, direction, street, street_type, unit, zip,
                   latitude, longitude, created_at)
               SELECT DISTINCT ON (a.key) a.key, left(r.address, 500), a.number, a.direction, a.street, a.street_type,
                   a.unit, a.zip, r.lat, r.lon, now()
               FROM import_rows r JOIN import_addresses a ON a.address = r.address
               WHERE r.lat IS NOT NULL AND a.key <> ''
               ORDER BY a.key, r.created_at, r.line
               ON CONFLICT (address_key) DO NOTHING"""
        )
        # Issues of earlier batches that gained reports from this one.
        cursor.execute(
            """UPDATE issues_issue i SET report_count = t.n, last_report_at = GREATEST(i.last_report_at, t.last)
               FROM (SELECT issue_id, count(*) AS n, max(submitted_at) AS last FROM reports_report
                     WHERE issue_id IN (SELECT issue_id FROM import_rows WHERE link <> 'import') GROUP BY issue_id) t
               WHERE i.id = t.issue_id AND i.report_count <> t.n"""
        )
    ImportBatch.objects.filter(pk=batch.pk).update(
        rows_read=read, rows_loaded=loaded, rows_rejected=rejected, rows_skipped=skipped,
        status=ImportBatch.Status.DONE, finished_at=timezone.now(),
    )
    return unknown


def _group(cursor: object, fmt: str) -> None:
    """Give every row its issue, set-based.

    1. A row naming a parent (PARENT_SR_NUMBER) joins the parent's issue.
    2. Any other located row joins the earliest earlier row of the same category within
       that category's grouping distance and time window: the live pipeline's rules.
    3. Links are followed to their root row: a root whose parent an earlier batch loaded
       takes that report's issue; every other root opens one; the rest join their root's.
    """
    cursor.execute(
        """ALTER TABLE import_rows ADD COLUMN category_id bigint, ADD COLUMN radius float8,
               ADD COLUMN window_hours int, ADD COLUMN root text,
               ADD COLUMN link text NOT NULL DEFAULT 'import';
           UPDATE import_rows r SET category_id = c.id, radius = c.group_radius_m, window_hours = c.group_window_hours
           FROM import_categories m JOIN issues_category c ON c.id = m.category_id WHERE m.raw = r.category;
           UPDATE import_rows SET link = 'source_parent' WHERE parent_id <> '';
           CREATE INDEX ON import_rows USING gist (public.ll_to_earth(lat, lon)) WHERE lat IS NOT NULL;
           ANALYZE import_rows;
           UPDATE import_rows r SET parent_id = near.source_id, link = 'import_grouped'
           FROM (
               SELECT r2.source_id AS child, (
                   SELECT e.source_id FROM import_rows e
                   WHERE e.lat IS NOT NULL AND e.category_id = r2.category_id
                     AND public.earth_box(public.ll_to_earth(r2.lat, r2.lon), r2.radius) @> public.ll_to_earth(e.lat, e.lon)
                     AND public.earth_distance(public.ll_to_earth(r2.lat, r2.lon), public.ll_to_earth(e.lat, e.lon)) <= r2.radius
                     AND e.created_at < r2.created_at
                     AND e.created_at >= r2.created_at - make_interval(hours => r2.window_hours)
                   ORDER BY e.created_at, e.line LIMIT 1
               ) AS source_id
               FROM import_rows r2 WHERE r2.parent_id = '' AND r2.lat IS NOT NULL AND r2.category_id IS NOT NULL
           ) near
           WHERE near.source_id IS NOT NULL AND r.source_id = near.child;"""
    )
    cursor.execute(
        """WITH RECURSIVE chain (source_id, root, depth) AS (
               SELECT source_id, source_id, 0 FROM import_rows
               WHERE parent_id = '' OR parent_id NOT IN (SELECT source_id FROM import_rows)
               UNION ALL
               SELECT r.source_id, c.root, c.depth + 1 FROM import_rows r JOIN chain c ON r.parent_id = c.source_id
               WHERE c.depth < 10000
           )
           UPDATE import_rows r SET root = chain.root FROM chain WHERE chain.source_id = r.source_id;
           -- A cycle of parents in the source has no root: its rows stand on their own.
           UPDATE import_rows SET root = source_id, link = 'import' WHERE root IS NULL;"""
    )
    cursor.execute(
        """UPDATE import_rows r SET issue_id = p.issue_id
           FROM reports_report p WHERE r.root = r.source_id AND r.parent_id <> '' AND p.source = %s AND p.source_id = r.parent_id;
           UPDATE import_rows SET issue_id = nextval(pg_get_serial_sequence('issues_issue', 'id'))
           WHERE root = source_id AND issue_id IS NULL;
           UPDATE import_rows c SET issue_id = p.issue_id FROM import_rows p
           WHERE c.root <> c.source_id AND p.source_id = c.root;""",
        [fmt],
    )


def _standardise_addresses(cursor: object) -> None:
    """Standardise each distinct address once (311 data repeats them), set-based after."""
    cursor.execute("SELECT DISTINCT address FROM import_rows WHERE address <> ''")
    parsed = []
    for (address,) in cursor.fetchall():
        std = standardise_address(address)
        parsed.append((address, std.key, std.number[:20], std.direction[:10], std.street[:200],
                       std.street_type[:20], std.unit[:50], std.zip[:10]))
    cursor.execute(
        """CREATE TEMP TABLE import_addresses (address text PRIMARY KEY, key text, number text, direction text,
               street text, street_type text, unit text, zip text) ON COMMIT DROP"""
    )
    with cursor.cursor.copy("COPY import_addresses FROM STDIN") as copy:
        for row in parsed:
            copy.write_row(row)
    cursor.execute(
        """ALTER TABLE import_rows ADD COLUMN address_key text NOT NULL DEFAULT '';
           UPDATE import_rows r SET address_key = a.key FROM import_addresses a WHERE a.address = r.address;"""
    )
