"""Bulk import of open-data 311 exports: the file goes through PostgreSQL COPY into a
staging table as it is, then set-based SQL applies the intake's rules. Imported reports
are born `processed` with their issues; the live pipeline and the sweeper never see them.

Formats: `publicstuff` (PublicStuff export: Unix-second dates, no closing time),
`chicago311` (City of Chicago "311 Service Requests": `MM/DD/YYYY hh:mm:ss AM` or ISO
8601 dates in the tenant's time zone, PARENT_SR_NUMBER grouping, split address columns)
and `mapped` (any CSV, through a YAML mapping).
"""
import csv
import gzip
import hashlib
import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg
from django.conf import settings
from django.db import DataError, connection, transaction
from django.utils import timezone
from psycopg import sql

from issues.geo import EARTHDISTANCE_RADIUS_M, geojson_polygons
from issues.models import OPEN_STATUSES, Area, Category
from issues.selectors import grouping_policy_get
from llm.offline import classify_offline
from reports.addresses import standardise_address, standardise_parts
from reports.models import TRACKING_ALPHABET, TRACKING_LENGTH, ImportBatch, new_tracking_id
from reports.services import category_info
from tenants.selectors import current_timezone_name

# The report fields every format is mapped to (text until SQL parses them).
COLUMNS = ("source_id", "created", "closed", "status", "category", "description", "address",
           "latitude", "longitude", "parent_id", "street_number", "street_direction", "street_name",
           "street_type", "zip")

# A format: given a way to name a column of the file (its lower-case header), the SQL
# expression of each report field; fields left out are empty.
Column = Callable[[str], sql.Composable]
Fields = dict[str, sql.Composable]


def _publicstuff(col: Column) -> Fields:
    return {
        "source_id": col("id"), "created": col("date created"), "status": col("status"), "category": col("title"),
        # A resident may leave the description empty: the category they picked says it.
        "description": sql.SQL("COALESCE(NULLIF({}, ''), {})").format(col("description"), col("title")),
        "address": col("address"), "latitude": col("latitude"), "longitude": col("longitude"), "zip": col("zip code"),
    }


def _chicago311(col: Column) -> Fields:
    return {
        "source_id": col("sr_number"), "created": col("created_date"), "closed": col("closed_date"),
        "status": col("status"), "category": col("sr_type"),
        # The portal has no free text: the request type is what the resident asked for.
        "description": col("sr_type"),
        "address": sql.SQL("concat_ws(', ', NULLIF({}, ''), NULLIF({}, ''), NULLIF({}, ''))").format(
            col("street_address"), col("city"), col("zip_code")),
        "latitude": col("latitude"), "longitude": col("longitude"), "parent_id": col("parent_sr_number"),
        "street_number": col("street_number"), "street_direction": col("street_direction"),
        "street_name": col("street_name"), "street_type": col("street_type"), "zip": col("zip_code"),
    }


FORMATS: dict[str, Callable[[Column], Fields]] = {
    "publicstuff": _publicstuff,
    "chicago311": _chicago311,
}
MAPPED = "mapped"


@dataclass(frozen=True)
class Mapping:
    """A YAML file mapping any CSV to the report fields:

        source: ourcity     # optional: the source system's name, its own id space
                            # (default: the mapping file's name without .yaml)
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
          street_number: No       # optional split address: number, direction,
          street_name: Street     #   name, type, zip
        categories:         # optional: the file's values to the tenant's category codes
          Pothole: potholes
    """

    source: str
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
        if "address" not in columns and "street_name" not in columns and not {"latitude", "longitude"} <= set(columns):
            raise ValueError(f"{path.name}: map address, or latitude and longitude")
        source = str(data.get("source") or path.stem)
        if len(source) > 20:
            raise ValueError(f"{path.name}: source {source!r} is longer than 20 characters; set a shorter `source:`")
        categories = {str(k): str(v) for k, v in (data.get("categories") or {}).items()}
        return cls(source, columns, categories)

    def fields(self, col: Column) -> Fields:
        return {field: col(column) for field, column in self.columns.items()}


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


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else path.open("rb")


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _header(path: Path) -> list[str]:
    with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        try:
            header = next(csv.reader(text), [])
        except UnicodeDecodeError as exc:  # the first block read holds more than the header
            raise ValueError(f"{path.name} is not UTF-8 text: {exc}") from exc
    if not header:
        raise ValueError(f"{path.name}: empty file, no header line")
    return [h.strip().lower() for h in header]


def _category_map(raw_values: list[str], explicit: dict[str, str]) -> tuple[dict[str, int], int]:
    """Each distinct source category to one of the tenant's: as the mapping file says, by
    code or name, else by the offline classifier on the source's wording; what matches
    nothing becomes `other` (and is counted)."""
    categories = list(Category.objects.filter(active=True))
    infos = [category_info(c) for c in categories]
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


# Columns a format cannot do without: a file lacking them is the wrong format.
REQUIRED = {"publicstuff": ("id", "date created", "title"), "chicago311": ("sr_number", "sr_type", "created_date")}

# Dates: Unix seconds (PublicStuff); `MM/DD/YYYY hh:mm:ss AM` (the Chicago portal's CSV)
# and ISO 8601 without an offset (its API), both the tenant's wall-clock time; ISO 8601
# with an offset as written. Anything else, or a day the month lacks, is NULL (the row is
# rejected) rather than an error that would end the whole import. A plain SQL function,
# so PostgreSQL inlines it: no function call, no subtransaction per row.
_DATE_SQL = r"""
CREATE FUNCTION {work}.import_ts(v text, tz text) RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN v ~ '^[0-9]{9,11}$' THEN to_timestamp(v::bigint)
    WHEN v ~ '^(0?[1-9]|1[0-2])/(0?[1-9]|[12][0-9]|3[01])/[1-9][0-9]{3} (0?[1-9]|1[0-2]):[0-5][0-9]:[0-5][0-9] [AaPp][Mm]$' THEN
        CASE WHEN split_part(v, '/', 2)::int <= 28
               OR date_part('month', make_date(left(split_part(v, '/', 3), 4)::int, split_part(v, '/', 1)::int, 1)
                                     + (split_part(v, '/', 2)::int - 1)) = split_part(v, '/', 1)::int
             THEN v::timestamp AT TIME ZONE tz END
    WHEN v ~ '^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)?)?$' THEN
        CASE WHEN substr(v, 9, 2)::int <= 28
               OR date_part('month', make_date(left(v, 4)::int, substr(v, 6, 2)::int, 1)
                                     + (substr(v, 9, 2)::int - 1)) = substr(v, 6, 2)::int
             THEN CASE WHEN v ~ ':[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$' THEN v::timestamptz
                       ELSE v::timestamp AT TIME ZONE tz END
        END
END
$$;
-- The portal's CSV form, read by PostgreSQL's own timestamp input: a fraction of the
-- cost of the checks above. It raises an error on an impossible date instead of giving
-- NULL, so it is only tried on a whole file at once; see `_check_rows`. What that input
-- takes and the checks above do not (hour 00, second 60, a year before 1000) goes to them.
CREATE FUNCTION {work}.import_ts_fast(v text, tz text) RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT CASE WHEN v LIKE '__/__/____ __:__:__ _M' AND substr(v, 12, 2) <> '00' AND substr(v, 18, 2) <> '60'
                 AND substr(v, 7, 1) <> '0'
            THEN v::timestamp AT TIME ZONE tz ELSE {work}.import_ts(v, tz) END
$$
"""
_NUMBER = r"'^[-+]?[0-9]{1,3}(\.[0-9]+)?$'"
# The fields kept as written; dates and coordinates are kept only parsed (the checks
# quote the text of an unreadable one in the row's reason).
_KEPT = ", ".join(f"p.{f}" for f in COLUMNS if f not in ("created", "closed", "latitude", "longitude"))
# Two layers: the format's fields and their parsed values, then the reason a row cannot
# be loaded, if any, and its tracking id. The inner layer draws the row's random bytes
# `u`; a layer calling a volatile function is never folded into the one around it, so
# each date is parsed once however often the outer layer looks at it. No OFFSET 0 to
# the same end: it would keep the parsing out of parallel workers.
_ROWS_SQL = """
CREATE UNLOGGED TABLE {work}.rows AS
SELECT p.line, {kept}, p.created_at, p.closed_at, p.lat, p.lon, {tracking} AS tracking_id, CASE
    WHEN p.problem IS NOT NULL THEN p.problem
    WHEN p.source_id = '' THEN 'no source id'
    WHEN length(p.source_id) > 100 THEN 'source id longer than 100 characters'
    WHEN p.created_at IS NULL THEN 'unreadable creation date: ' || left(p.created, 40)
    WHEN p.created_at > now() + interval '1 day' THEN 'creation date in the future: ' || left(p.created, 40)
    WHEN p.closed <> '' AND p.closed_at IS NULL THEN 'unreadable closing date: ' || left(p.closed, 40)
    WHEN p.description = '' THEN 'no description'
    WHEN (p.latitude <> '' AND p.lat IS NULL) OR (p.longitude <> '' AND p.lon IS NULL)
        THEN 'unreadable coordinates: ' || left(p.latitude || ' ' || p.longitude, 40)
    WHEN p.lat NOT BETWEEN -90 AND 90 OR p.lon NOT BETWEEN -180 AND 180 THEN 'coordinates out of range'
    WHEN (p.lat IS NULL) <> (p.lon IS NULL) THEN 'latitude and longitude must come together'
    WHEN p.lat IS NULL AND p.address = '' AND p.street_name = '' THEN 'no point and no address'
END AS reason
FROM (
    SELECT f.*, {work}.{ts}(f.created, %(tz)s) AS created_at,
           CASE WHEN f.closed <> '' THEN {work}.{ts}(f.closed, %(tz)s) END AS closed_at,
           CASE WHEN f.latitude ~ {number} THEN f.latitude::float8 END AS lat,
           CASE WHEN f.longitude ~ {number} THEN f.longitude::float8 END AS lon,
           uuid_send(gen_random_uuid()) AS u
    FROM (SELECT s.line, s.problem, {fields} FROM {work}.staging s) f
) p
"""


def import_reports(
    *, path: Path, fmt: str, mapping: Mapping | None = None,
    progress: Callable[[int], None] = lambda n: None, phase: Callable[[str], None] = lambda name: None,
) -> ImportResult:
    """Import one file into the current tenant's schema as a new batch. `progress` hears
    of rows as they are read, `phase` of each step after that."""
    if fmt == MAPPED:
        if mapping is None:
            raise ValueError("the mapped format needs a mapping file (--mapping FILE.yaml)")
        fields_of, explicit, source = mapping.fields, mapping.categories, mapping.source
        required = tuple(mapping.columns[f] for f in ("source_id", "created", "description"))
    elif fmt in FORMATS:
        fields_of, explicit, source, required = FORMATS[fmt], {}, fmt, REQUIRED[fmt]
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join([*FORMATS, MAPPED])}")
    header = _header(path)
    absent = [c for c in required if c not in header]
    if absent:
        raise ValueError(
            f"{path.name} has no column {', '.join(absent)}: is it a {fmt} file? Its columns: {', '.join(header)[:300]}"
        )
    batch = ImportBatch.objects.create(source_format=fmt, file_name=path.name, checksum=_checksum(path))
    try:
        with transaction.atomic():
            unknown = _load(batch, path, header, fields_of(_columns(header)), source, explicit, progress, phase)
    except Exception as exc:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    batch.refresh_from_db()
    return ImportResult(batch, unknown)


def _staging_names(header: list[str]) -> list[str]:
    # Positional names: headers may repeat, be empty or exceed PostgreSQL's 63 characters.
    return [f"c{i}" for i in range(len(header))]


def _columns(header: list[str]) -> Column:
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        position.setdefault(name, i)  # a repeated header: its first column
    names = _staging_names(header)

    def col(name: str) -> sql.Composable:
        if name not in position:
            return sql.SQL("''")
        return sql.SQL("btrim(s.{})").format(sql.Identifier(names[position[name]]))

    return col


def _tracking_sql(uuid_bytes: str) -> sql.Composable:
    """A tracking id from a random UUID's bytes: five random bits per character (the
    alphabet has 32), from bytes whose low five bits carry no version or variant."""
    assert len(TRACKING_ALPHABET) == 32
    random_bytes = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15][:TRACKING_LENGTH]
    return sql.SQL(" || ").join(
        sql.SQL("substr({}, (get_byte({}, {}) & 31) + 1, 1)").format(
            sql.Literal(TRACKING_ALPHABET), sql.SQL(uuid_bytes), sql.Literal(n))
        for n in random_bytes
    )


def _load(
    batch: ImportBatch, path: Path, header: list[str], fields: Fields, source: str, explicit: dict[str, str],
    progress: Callable[[int], None], phase: Callable[[str], None],
) -> int:
    tz = current_timezone_name()  # dates without an offset are the tenant's local time
    names = _staging_names(header)
    with connection.cursor() as cursor:
        # Hash joins and sorts of a million rows stay in memory; no JIT compilation
        # (it costs more than it saves on these one-off statements); `MM/DD/YYYY` is
        # month first. Merge joins are off: the planner's guesses about freshly made
        # tables lead it to sort millions of rows on disk instead of hashing. Parallel
        # plans are made cheaper than by default: the planner underrates the per-row
        # parsing that workers share.
        cursor.execute(
            "SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB'; SET LOCAL jit = off; "
            "SET LOCAL enable_mergejoin = off; SET LOCAL datestyle = 'ISO, MDY'; "
            "SET LOCAL parallel_setup_cost = 100; SET LOCAL parallel_tuple_cost = 0.01"
        )
        # The import's own tables (the file, the checked rows, the points, the links...)
        # are unlogged tables in a schema of this batch's own, not temporary tables:
        # parallel workers cannot read temporary tables. Created in this transaction,
        # they vanish with it if it fails, and are dropped before it commits.
        work = _work_schema(batch)
        cursor.execute(f"CREATE SCHEMA {work}")
        cursor.execute(
            sql.SQL(
                "CREATE UNLOGGED TABLE {}.staging (line bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 2), "
                "problem text, {})"
            ).format(sql.Identifier(work), sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(n)) for n in names))
            .as_string(cursor.connection)
        )
        phase("reading")
        _copy(cursor, path, work, names, progress)
        with _bulk_load(cursor, _is_bulk(cursor, work)) as bulk:
            phase("checking")
            cursor.execute(_DATE_SQL.replace("{work}", work))
            field_list = sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(fields.get(f, sql.SQL("''")), sql.Identifier(f)) for f in COLUMNS
            )
            _check_rows(cursor, _ROWS_SQL.replace("{number}", _NUMBER).replace("{work}", work).replace("{kept}", _KEPT)
                        .replace("{tracking}", _tracking_sql("p.u").as_string(cursor.connection))
                        .replace("{fields}", field_list.as_string(cursor.connection)), tz)
            # Autovacuum never sees tables that live and die in one transaction: without
            # statistics the planner picks nested loops over a million rows.
            cursor.execute(f"ANALYZE {work}.rows")
            cursor.execute(f"SELECT count(*) FROM {work}.rows")
            read = cursor.fetchone()[0]
            cursor.execute(
                sql.SQL(
                    """INSERT INTO reports_rejectedrow (batch_id, line, source_id, reason, raw)
                       SELECT %s, r.line, left(r.source_id, 100), r.reason, jsonb_object(%s::text[], ARRAY[{columns}])
                       FROM {work}.rows r JOIN {work}.staging s ON s.line = r.line WHERE r.reason IS NOT NULL"""
                ).format(columns=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(n)) for n in names),
                         work=sql.Identifier(work))
                .as_string(cursor.connection),
                [batch.pk, header],
            )
            rejected = cursor.rowcount
            cursor.execute(f"DROP TABLE {work}.staging")

            phase("standardising")
            cursor.execute(f"SELECT DISTINCT category FROM {work}.rows WHERE reason IS NULL")
            mapping, unknown = _category_map([r[0] for r in cursor.fetchall()], explicit)
            cursor.execute(f"CREATE UNLOGGED TABLE {work}.categories (raw text, category_id bigint)")
            cursor.executemany(f"INSERT INTO {work}.categories VALUES (%s, %s)", list(mapping.items()))
            # Each category's grouping distance and window, the tenant's where it sets none.
            policy = grouping_policy_get()
            cursor.execute(
                f"""CREATE UNLOGGED TABLE {work}.grouping AS
                   SELECT id, COALESCE(group_radius_m, %s) AS radius, COALESCE(group_window_hours, %s) AS window_hours
                   FROM issues_category""",
                [policy.radius_m, policy.window_hours],
            )
            _standardise_addresses(cursor, work)
            _valid_rows(cursor, work, source)
            cursor.execute(f"SELECT count(*), min(created_at), max(created_at), max(abs(lat)) FROM {work}.valid")
            valid, first, last, max_lat = cursor.fetchone()

            phase("grouping")
            _group(cursor, work, source, first, last, max_lat, bulk)

            phase("writing")
            _write_issues(cursor, work)
            loaded = _write_reports(cursor, work, batch, source, valid, bulk)
            _write_locations(cursor, work)
            cursor.execute(f"DROP SCHEMA {work} CASCADE")
            if bulk:
                phase("indexing")
    ImportBatch.objects.filter(pk=batch.pk).update(
        rows_read=read, rows_loaded=loaded, rows_rejected=rejected, rows_skipped=read - rejected - loaded,
        status=ImportBatch.Status.DONE, finished_at=timezone.now(),
    )
    return unknown


def _check_rows(cursor: object, statement: str, tz: str) -> None:
    """Parse and check every row. A file of Chicago portal CSV dates is read the fast
    way first; an impossible date among them (an error there) sends the whole file
    through the strict checks, which reject such rows one by one instead."""
    try:
        with transaction.atomic():
            cursor.execute(statement.replace("{ts}", "import_ts_fast"), {"tz": tz})
        return
    except DataError as exc:
        if not isinstance(exc.__cause__, (psycopg.errors.InvalidDatetimeFormat, psycopg.errors.DatetimeFieldOverflow)):
            raise
    cursor.execute(statement.replace("{ts}", "import_ts"), {"tz": tz})


# The tables a bulk load takes for itself, in the order the live pipeline locks them.
BULK_TABLES = ("reports_report", "issues_issue")


def _work_schema(batch: ImportBatch) -> str:
    # Batch numbers are per tenant; the schema name must be unique in the database.
    return f"import_work_{connection.tenant.pk}_{batch.pk}"


def _is_bulk(cursor: object, work: str) -> bool:
    """A file larger than the threshold and than the reports already loaded: onboarding
    a city's history, when no one is using the tenant yet."""
    cursor.execute(f"SELECT count(*) FROM {work}.staging")
    rows = cursor.fetchone()[0]
    # The planner's estimate, read from the catalogue: counting the table would take a
    # lock before the exclusive one below (and a lock upgrade invites deadlocks).
    cursor.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'reports_report'::regclass")
    return rows >= settings.IMPORT_BULK_MIN_ROWS and rows > cursor.fetchone()[0]


@contextmanager
def _bulk_load(cursor: object, bulk: bool) -> Iterator[bool]:
    """PostgreSQL's advice for populating a table ("Populating a Database" in its
    manual): drop the indexes and foreign keys, load, build them again. One build is
    far cheaper than a million index insertions and deferred key checks. Unique
    indexes go too, as the rows to load are checked against them set-based first:
    source ids in `_valid_rows`, tracking ids in `_settle_tracking_clashes`; imported
    rows have no external id; primary keys are given by sequences. Only the keys other
    tables' foreign keys point at (the issues' primary key) stay.
    Both tables are locked first, before this transaction touches them, so the lock is
    never an upgrade and cannot deadlock; a failed import rolls the drops back with
    the rest.

    Otherwise the tables are still locked in the order the live pipeline takes them,
    so two imports, or an import and a worker, never wait for each other in a circle.
    """
    tables = ", ".join(BULK_TABLES)
    if not bulk:
        cursor.execute(f"LOCK TABLE {tables} IN ROW EXCLUSIVE MODE")
        yield False
        return
    cursor.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
    # Key checks this transaction deferred (rows written before the import began) must
    # run before the tables can be altered; every key here is deferred by default again after.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
    oids = "(" + ", ".join(f"'{t}'::regclass" for t in BULK_TABLES) + ")"
    # Indexes of their own (a unique constraint's index goes with its constraint).
    cursor.execute(
        f"""SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.indrelid IN {oids} AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"""
    )
    indexes = cursor.fetchall()
    # Primary keys and unique constraints no foreign key depends on, then foreign keys
    # (re-added last).
    cursor.execute(
        f"""SELECT k.conrelid::regclass::text, k.conname, pg_get_constraintdef(k.oid), k.contype = 'f'
            FROM pg_constraint k
            WHERE k.conrelid IN {oids} AND (k.contype = 'f' OR (k.contype IN ('p', 'u') AND NOT EXISTS (
                SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)))
            ORDER BY k.contype = 'f', k.conname"""
    )
    constraints = cursor.fetchall()
    for table, name, _, _ in reversed(constraints):
        cursor.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(table), sql.Identifier(name))
                       .as_string(cursor.connection))
    for schema, name, _ in indexes:
        cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)).as_string(cursor.connection))
    yield True
    for _, _, definition in indexes:
        cursor.execute(definition)
    for table, name, definition, foreign in constraints:
        add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(sql.SQL(table), sql.Identifier(name), sql.SQL(definition))
        if foreign:
            # Added unchecked, then checked in one pass over the table rather than per row.
            add = sql.SQL("{} NOT VALID; ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                add, sql.SQL(table), sql.Identifier(name))
        cursor.execute(add.as_string(cursor.connection))


def _copy(cursor: object, path: Path, work: str, names: list[str], progress: Callable[[int], None]) -> None:
    """The file into the staging table as it is, by COPY. A file COPY cannot read (a row
    with too many or too few fields) is read again row by row, such rows marked."""
    columns = sql.SQL(", ").join(map(sql.Identifier, names))
    counted = 0
    try:
        with transaction.atomic():  # a savepoint: the second reading starts clean
            with _open(path) as f, cursor.cursor.copy(
                sql.SQL("COPY {}.staging ({}) FROM STDIN (FORMAT csv, HEADER true, FORCE_NOT_NULL ({}))")
                .format(sql.Identifier(work), columns, columns)
            ) as copy:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
                    lines = chunk.count(b"\n")
                    counted += lines
                    progress(lines)
        return
    except psycopg.errors.BadCopyFileFormat:
        progress(-counted)
    except psycopg.errors.CharacterNotInRepertoire as exc:
        raise ValueError(f"{path.name} is not UTF-8 text: {exc}") from exc
    expected = len(names)
    with _open(path) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text, cursor.cursor.copy(
        sql.SQL("COPY {}.staging (line, problem, {}) FROM STDIN").format(sql.Identifier(work), columns)
    ) as copy:
        reader = csv.reader(text)
        next(reader, None)
        for n, values in enumerate(reader, start=1):
            if not values:
                continue  # a blank line
            problem = None if len(values) == expected else f"expected {expected} fields, found {len(values)}"
            copy.write_row((reader.line_num, problem, *(values + [""] * expected)[:expected]))
            if n % 10_000 == 0:
                progress(10_000)


def _standardise_addresses(cursor: object, work: str) -> None:
    """Standardise each distinct address once (311 data repeats them): from the split
    columns when the file has them, else parsed from the one-line address."""
    parts = ("address", "street_number", "street_direction", "street_name", "street_type", "zip")
    cursor.execute(
        f"SELECT DISTINCT {', '.join(parts)} FROM {work}.rows "
        "WHERE reason IS NULL AND (address <> '' OR street_name <> '')"
    )
    rows = cursor.fetchall()
    cursor.execute(
        f"""CREATE UNLOGGED TABLE {work}.addresses (id int PRIMARY KEY, address text, street_number text,
               street_direction text, street_name text, street_type text, zip_in text, key text, number text,
               direction text, street text, std_type text, unit text, zip text)"""
    )
    with cursor.cursor.copy(f"COPY {work}.addresses FROM STDIN") as copy:
        for n, (address, number, direction, name, street_type, zip_code) in enumerate(rows):
            if number and name:
                std = standardise_parts(number=number, direction=direction, street=name, street_type=street_type,
                                        zip=zip_code)
            else:
                std = standardise_address(address)
            copy.write_row((n, address, number, direction, name, street_type, zip_code, std.key, std.number[:20],
                            std.direction[:10], std.street[:200], std.street_type[:20], std.unit[:50],
                            (std.zip or zip_code)[:10]))
    cursor.execute(f"ANALYZE {work}.addresses")


def _valid_rows(cursor: object, work: str, source: str) -> None:
    """The rows to load: one per source id (exports repeat rows), none an earlier batch
    loaded, with their category and address key."""
    statuses = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(k), sql.Literal(v)) for k, v in STATUSES.items()
    )
    # The first good row of each source id, as a table of its own: the aggregate and
    # the join below are then shared among parallel workers, not left to one process.
    cursor.execute(
        f"""CREATE UNLOGGED TABLE {work}.firsts AS
            SELECT min(line) AS line FROM {work}.rows WHERE reason IS NULL GROUP BY source_id;
            ANALYZE {work}.firsts"""
    )
    cursor.execute(
        sql.SQL(
            """CREATE UNLOGGED TABLE {work}.valid AS
               SELECT r.line, r.source_id, r.created_at,
                      -- A closing time before the opening one is unusable: unknown, not made up.
                      CASE WHEN r.closed_at >= r.created_at THEN r.closed_at END AS closed_at,
                      CASE lower(r.status) {statuses} ELSE 'open' END AS status,
                      m.category_id, c.department_id, COALESCE(c.default_severity, 'medium') AS severity,
                      g.radius, g.window_hours,
                      r.description, left(r.address, 500) AS address, a.id AS address_ref,
                      COALESCE(a.key, '') AS address_key, r.lat, r.lon, r.parent_id, r.tracking_id
               FROM {work}.rows r
               LEFT JOIN {work}.categories m ON m.raw = r.category
               LEFT JOIN issues_category c ON c.id = m.category_id
               LEFT JOIN {work}.grouping g ON g.id = m.category_id
               LEFT JOIN {work}.addresses a
                 ON (a.address, a.street_number, a.street_direction, a.street_name, a.street_type, a.zip_in)
                  = (r.address, r.street_number, r.street_direction, r.street_name, r.street_type, r.zip)
               JOIN {work}.firsts f ON f.line = r.line
               WHERE NOT EXISTS (SELECT 1 FROM reports_report p WHERE p.source = {source} AND p.source_id = r.source_id)"""
        ).format(statuses=statuses, source=sql.Literal(source), work=sql.Identifier(work))
        .as_string(cursor.connection)
    )
    cursor.execute(f"DROP TABLE {work}.rows, {work}.firsts; ANALYZE {work}.valid")


_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)


def _group(
    cursor: object, work: str, source: str, first: object, last: object, max_lat: float | None, bulk: bool,
) -> None:
    """Give every row its issue, set-based.

    1. A row naming a parent (PARENT_SR_NUMBER) joins the parent's issue: the parent's
       row in this file, or the issue of the report an earlier batch loaded.
    2. Any other located row joins the earliest earlier row of the same category within
       that category's grouping distance and time window, or an issue already in the
       tenant that was open then and had a report within the window: the live
       pipeline's distance, time and category rules (its text score is not applied:
       exports such as Chicago's carry no free text to compare). Points are bucketed
       into cells twice as wide as the category's distance, so everything within that
       distance of a point lies in its own cell and the three next to the quarter it sits
       in: each row is compared with four cells through a hash join, never with the
       whole file.
    3. Links are followed to their root: a root row opens an issue, the rest join it.
       Rows caught in a cycle of parents stand on their own.
    """
    cursor.execute(
        f"""CREATE UNLOGGED TABLE {work}.links AS
            SELECT v.line, p.line AS parent_line, NULL::bigint AS issue_id, 'source_parent' AS method
            FROM {work}.valid v JOIN {work}.valid p ON p.source_id = v.parent_id
            WHERE v.parent_id <> '' AND v.parent_id <> v.source_id
            UNION ALL
            SELECT v.line, NULL, r.issue_id, 'source_parent'
            FROM {work}.valid v JOIN reports_report r ON r.source = %(source)s AND r.source_id = v.parent_id
            WHERE v.parent_id <> '' AND r.issue_id IS NOT NULL;
            ANALYZE {work}.links;""",
        {"source": source},
    )
    if first is not None and max_lat is not None:
        # Cells at least twice the category's distance wide everywhere in the file: the
        # metres of a degree of latitude on earthdistance's sphere, rounded down, and the
        # longitude scale of the file's latitude farthest from the equator.
        yscale = math.floor(math.radians(EARTHDISTANCE_RADIUS_M))
        xscale = yscale * math.cos(math.radians(min(max_lat + 0.01, 89.9)))
        # A point's cell, and which neighbour across each axis its own half of the cell
        # faces (-1 or 1).
        cells = ("floor({y})::bigint AS cy, floor({x})::bigint AS cx, "
                 "CASE WHEN {y} - floor({y}) < 0.5 THEN -1 ELSE 1 END AS sy, "
                 "CASE WHEN {x} - floor({x}) < 0.5 THEN -1 ELSE 1 END AS sx")
        cells_rows = cells.format(y="(v.lat * %(yscale)s / (2 * v.radius))", x="(v.lon * %(xscale)s / (2 * v.radius))")
        cells_issue = cells.format(y="(i.latitude * %(yscale)s / (2 * g.radius))",
                                   x="(i.longitude * %(xscale)s / (2 * g.radius))")
        # Each point as a unit vector, once: within the distance means within the chord
        # that distance subtends on earthdistance's sphere (public.earth()), so pairs are
        # compared with a few multiplications instead of earth_distance(ll_to_earth()).
        xyz = ("cos(radians({lat})) * cos(radians({lon})) AS x, cos(radians({lat})) * sin(radians({lon})) AS y, "
               "sin(radians({lat})) AS z")
        xyz_rows, xyz_issue = xyz.format(lat="v.lat", lon="v.lon"), xyz.format(lat="i.latitude", lon="i.longitude")
        chord = ("(2 * sin(v.radius / (2 * public.earth()))) ^ 2 AS chord2, "
                 "v.created_at - make_interval(hours => v.window_hours) AS since")
        cursor.execute(
            f"""CREATE UNLOGGED TABLE {work}.points AS
                SELECT v.line, v.line IN (SELECT line FROM {work}.links) AS linked,
                       NULL::bigint AS issue_id, v.category_id, v.radius, v.window_hours, v.lat, v.lon,
                       v.created_at, v.created_at AS last_at, 'infinity'::timestamptz AS open_until,
                       {cells_rows}, {xyz_rows}, {chord}
                FROM {work}.valid v WHERE v.lat IS NOT NULL AND v.radius > 0
                UNION ALL
                SELECT NULL, true, i.id, i.category_id, g.radius, g.window_hours, i.latitude, i.longitude,
                       i.created_at, i.last_report_at,
                       CASE WHEN i.status IN ({_OPEN}) THEN 'infinity'
                            ELSE COALESCE(i.resolved_at, i.closed_at, '-infinity') END,
                       {cells_issue}, {xyz_issue}, NULL, NULL
                FROM issues_issue i JOIN {work}.grouping g ON g.id = i.category_id
                WHERE i.latitude IS NOT NULL AND g.radius > 0 AND i.created_at <= %(last)s
                  AND i.last_report_at >= %(first)s - make_interval(hours => g.window_hours);
                ANALYZE {work}.points;
                -- A table of its own first, not INSERT ... SELECT: only the former may
                -- share the join among parallel workers.
                CREATE UNLOGGED TABLE {work}.near AS
                SELECT DISTINCT ON (r.line) r.line, e.line AS parent_line, e.issue_id, 'import_grouped' AS method
                FROM {work}.points r
                CROSS JOIN (VALUES (0, 0), (0, 1), (1, 0), (1, 1)) AS d (dy, dx)
                JOIN {work}.points e
                  ON e.category_id = r.category_id AND e.cy = r.cy + d.dy * r.sy AND e.cx = r.cx + d.dx * r.sx
                WHERE NOT r.linked
                  -- Earlier rows (the file's order breaks ties), or an issue already open then.
                  AND CASE WHEN e.issue_id IS NULL THEN (e.created_at, e.line) < (r.created_at, r.line)
                           ELSE e.created_at <= r.created_at AND e.open_until > r.created_at END
                  AND e.last_at >= r.since
                  AND (r.x - e.x) ^ 2 + (r.y - e.y) ^ 2 + (r.z - e.z) ^ 2 <= r.chord2
                ORDER BY r.line, e.created_at, e.issue_id NULLS LAST, e.line;
                INSERT INTO {work}.links SELECT * FROM {work}.near;
                DROP TABLE {work}.points, {work}.near;""",
            {"yscale": yscale, "xscale": xscale, "first": first, "last": last},
        )
    cursor.execute(
        f"""CREATE INDEX ON {work}.links (parent_line);
           ANALYZE {work}.links;
           CREATE UNLOGGED TABLE {work}.roots AS
           WITH RECURSIVE up (line, root_line, issue_id, method, depth) AS (
               SELECT l.line, l.parent_line, l.issue_id, l.method, 1 FROM {work}.links l
               WHERE l.issue_id IS NOT NULL OR l.parent_line NOT IN (SELECT line FROM {work}.links)
               UNION ALL
               SELECT l.line, up.root_line, up.issue_id, l.method, up.depth + 1
               FROM up JOIN {work}.links l ON l.parent_line = up.line
               WHERE up.depth < 1000000
           )
           SELECT line, root_line, issue_id, method FROM up;
           ANALYZE {work}.roots;"""
    )
    sequence = "pg_get_serial_sequence('issues_issue', 'id')"
    if bulk:
        # No one else can insert issues while the table is locked: take one block of the
        # sequence, an id for each line of the file, so a row that opens an issue gets
        # its line's id and one that joins gets its root's, by arithmetic rather than by
        # numbering the opening rows and looking the numbers up. Lines that open no issue
        # (rejected, repeated, joining) leave their ids unused.
        cursor.execute(f"SELECT min(line), max(line) FROM {work}.valid")
        first_line, last_line = cursor.fetchone()
        cursor.execute(f"SELECT nextval({sequence})")
        base = cursor.fetchone()[0]
        cursor.execute(f"SELECT setval({sequence}, %s)", [base + (last_line or 0) - (first_line or 0)])
        numbering, numbered, new_id = "", "", "%(offset)s + COALESCE(ro.root_line, v.line)"
        params: dict[str, int] = {"offset": base - (first_line or 0)}
    else:
        # Ids drawn one by one, as live reports draw theirs at the same time.
        numbering = f"""WITH new AS MATERIALIZED (
               SELECT v.line, nextval({sequence}) AS issue_id
               FROM {work}.valid v WHERE v.line NOT IN (SELECT line FROM {work}.roots)
           )"""
        numbered, new_id = "LEFT JOIN new n ON n.line = COALESCE(ro.root_line, v.line)", "n.issue_id"
        params = {}
    cursor.execute(
        f"""CREATE UNLOGGED TABLE {work}.assign AS
           {numbering}
           -- The whole row with its issue: the writing steps read this one table rather
           -- than join two of a million rows each.
           SELECT v.*, COALESCE(ro.issue_id, {new_id}) AS issue_id, COALESCE(ro.method, 'import') AS method,
                  ro.line IS NULL AS opens, ro.issue_id IS NOT NULL AS existing
           FROM {work}.valid v
           LEFT JOIN {work}.roots ro ON ro.line = v.line
           {numbered};
           DROP TABLE {work}.valid;
           ANALYZE {work}.assign;""",
        params,
    )


def _area_parts(cursor: object, work: str) -> int:
    """The tenant's areas as PostgreSQL polygons, one row per ring (outer or hole), in the
    order the live pipeline tries them (issues.selectors.area_for_point: by name), so
    imported issues get the area a live report at the same point would."""
    cursor.execute(
        f"""CREATE UNLOGGED TABLE {work}.area_parts (area_id bigint, ord int, part int, hole boolean, poly polygon,
               bbox box)"""
    )
    rows = []
    areas = Area.objects.exclude(boundary=None).order_by("name", "pk").values_list("pk", "boundary")
    for order, (area_id, geometry) in enumerate(areas):
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        for part, rings in enumerate(geojson_polygons(geometry)):
            for k, ring in enumerate(rings):
                if len(ring) >= 3:
                    points = ",".join(f"({float(x)!r},{float(y)!r})" for x, y, *_ in ring)
                    rows.append((area_id, order, part, k > 0, f"({points})"))
    with cursor.cursor.copy(f"COPY {work}.area_parts (area_id, ord, part, hole, poly) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"UPDATE {work}.area_parts SET bbox = box(poly); ANALYZE {work}.area_parts")
    return len(rows)


# The first area (by name) whose outer ring holds the point and none of whose holes in
# that polygon do; the box first, as it is cheap.
_AREA_SQL = """
    (SELECT o.area_id FROM {work}.area_parts o
     WHERE v.lat IS NOT NULL AND NOT o.hole AND o.bbox @> point(v.lon, v.lat) AND o.poly @> point(v.lon, v.lat)
       AND NOT EXISTS (SELECT 1 FROM {work}.area_parts h
                       WHERE h.hole AND h.area_id = o.area_id AND h.part = o.part
                         AND h.bbox @> point(v.lon, v.lat) AND h.poly @> point(v.lon, v.lat))
     ORDER BY o.ord LIMIT 1)"""


def _write_issues(cursor: object, work: str) -> None:
    area = _AREA_SQL.replace("{work}", work) if _area_parts(cursor, work) else "NULL::bigint"
    cursor.execute(
        f"""INSERT INTO issues_issue (id, title, summary, text, category_id, department_id, severity, status,
               latitude, longitude, address_key, area_id, report_count, created_at, last_report_at,
               acknowledged_at, resolved_at, closed_at, updated_at)
           SELECT v.issue_id, left(v.description, 200), left(v.description, 300), v.description,
               v.category_id, v.department_id, v.severity, v.status,
               v.lat, v.lon, CASE WHEN v.lat IS NULL THEN v.address_key ELSE '' END, {area},
               1 + COALESCE(k.n, 0), v.created_at, GREATEST(v.created_at, k.last), NULL,
               -- A closing time only where the source has one: never a made-up one.
               CASE WHEN v.status IN ('resolved', 'closed') THEN v.closed_at END,
               CASE WHEN v.status = 'closed' THEN v.closed_at END, now()
           FROM {work}.assign v
           -- The rows joining each new issue, counted here (few: most rows open their
           -- own), so new issues are written once, not inserted then updated.
           LEFT JOIN (SELECT ro.root_line, count(*) AS n, max(j.created_at) AS last
                      FROM {work}.roots ro JOIN {work}.assign j ON j.line = ro.line
                      WHERE ro.issue_id IS NULL GROUP BY ro.root_line) k ON k.root_line = v.line
           WHERE v.opens
           -- In id order, the primary key (kept while loading: other tables' keys point
           -- at it) grows at its right edge instead of splitting pages all over.
           ORDER BY v.issue_id;
           -- Issues already in the tenant that gained reports from this file.
           UPDATE issues_issue i SET report_count = i.report_count + t.n, last_report_at = GREATEST(i.last_report_at, t.last)
           FROM (SELECT issue_id, count(*) AS n, max(created_at) AS last FROM {work}.assign WHERE existing
                 GROUP BY issue_id) t
           WHERE i.id = t.issue_id;"""
    )


_REPORTS_SQL = """
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
"""
# Outside a bulk load the unique index settles tracking-id clashes as rows are written.
_ON_CONFLICT = "ON CONFLICT (tracking_id) DO NOTHING"


def _write_reports(cursor: object, work: str, batch: ImportBatch, source: str, expected: int, bulk: bool) -> int:
    params = {"batch": batch.pk, "source": source}
    statement = _REPORTS_SQL.replace("{work}", work)
    if bulk:
        # No unique index to arbitrate while the table is being filled: clashes are
        # settled beforehand, and no one else can write under the lock.
        _settle_tracking_clashes(cursor, work)
        cursor.execute(statement.replace("{only}", ""), params)
        return cursor.rowcount
    cursor.execute(statement.replace("{only}", "") + _ON_CONFLICT, params)
    loaded = cursor.rowcount
    # Fifty random bits make a clash with an existing tracking id rare, not impossible:
    # the few rows that met one are given new ids and written again.
    for _ in range(5):
        if loaded >= expected:
            break
        missing = "WHERE NOT EXISTS (SELECT 1 FROM reports_report p WHERE p.source = %(source)s AND p.source_id = v.source_id)"
        cursor.execute(f"SELECT line FROM {work}.assign v {missing}", params)
        cursor.executemany(
            f"UPDATE {work}.assign SET tracking_id = %s WHERE line = %s",
            [(new_tracking_id(), line) for (line,) in cursor.fetchall()],
        )
        cursor.execute(statement.replace("{only}", missing) + _ON_CONFLICT, params)
        loaded += cursor.rowcount
    if loaded < expected:
        raise RuntimeError(f"{expected - loaded} rows could not be written (tracking ids kept clashing)")
    return loaded


def _settle_tracking_clashes(cursor: object, work: str) -> None:
    """New tracking ids for the rows whose id an earlier row of the file or a report
    already holds, until none does (two hash passes; almost always nothing to do)."""
    for _ in range(5):
        cursor.execute(
            sql.SQL(
                """UPDATE {work}.assign v SET tracking_id = {tracking}
                   WHERE v.line IN (
                       SELECT x.line FROM {work}.assign x
                       JOIN (SELECT tracking_id, min(line) AS first FROM {work}.assign GROUP BY tracking_id
                             HAVING count(*) > 1) d ON d.tracking_id = x.tracking_id AND x.line <> d.first
                       UNION ALL
                       SELECT x.line FROM {work}.assign x JOIN reports_report p ON p.tracking_id = x.tracking_id)"""
            ).format(tracking=_tracking_sql("uuid_send(gen_random_uuid())"), work=sql.Identifier(work))
            .as_string(cursor.connection)
        )
        if cursor.rowcount == 0:
            return
    raise RuntimeError("tracking ids kept clashing")


def _write_locations(cursor: object, work: str) -> None:
    # Where each address is: the first located row of each, unless known already. Keys
    # are inserted in order and conflicts are ignored, so two imports sharing addresses
    # wait for each other at most, never deadlock, never duplicate.
    cursor.execute(
        f"""INSERT INTO reports_location (address_key, address, number, direction, street, street_type, unit, zip,
               latitude, longitude, created_at)
           SELECT DISTINCT ON (a.key) a.key, v.address, a.number, a.direction, a.street, a.std_type,
               a.unit, a.zip, v.lat, v.lon, now()
           -- The first located row of each way of writing the address, then of each key:
           -- two small sorts instead of one over every row.
           FROM (SELECT DISTINCT ON (address_ref) address_ref, address, lat, lon, created_at, line
                 FROM {work}.assign WHERE lat IS NOT NULL AND address_ref IS NOT NULL
                 ORDER BY address_ref, created_at, line) v
           JOIN {work}.addresses a ON a.id = v.address_ref
           WHERE a.key <> ''
           ORDER BY a.key, v.created_at, v.line
           ON CONFLICT (address_key) DO NOTHING"""
    )
