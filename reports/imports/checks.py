"""Checking the staged rows, set-based: every report field parsed (dates, coordinates),
the reason a row cannot be loaded if any, a tracking id drawn for each row; rejected rows
kept whole with their reason."""

import psycopg
from django.db import DataError, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import sql

from civicpulse.core.sql import compose, run
from reports.imports.files import staging_names
from reports.imports.formats import COLUMNS, Fields
from reports.models import TRACKING_ALPHABET, TRACKING_LENGTH

# The forms of a date (see _DATES).
_UNIX_SECONDS = r"^[0-9]{9,11}$"
_US_DATETIME = (
    r"^(0?[1-9]|1[0-2])/(0?[1-9]|[12][0-9]|3[01])/[1-9][0-9]{3} (0?[1-9]|1[0-2]):[0-5][0-9]:[0-5][0-9]"
    r" [AaPp][Mm]$"
)
_ISO_8601 = (
    r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,9})?)?(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)?)?$"
)
_WITH_OFFSET = r":[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
# A coordinate.
_NUMBER = r"^[-+]?[0-9]{1,3}(\.[0-9]+)?$"

# Dates: Unix seconds (PublicStuff); `MM/DD/YYYY hh:mm:ss AM` (the Chicago portal's CSV)
# and ISO 8601 without an offset (its API), both the tenant's wall-clock time; ISO 8601
# with an offset as written. Anything else, or a day the month lacks, is NULL (the row is
# rejected) rather than an error that would end the whole import. A plain SQL function,
# so PostgreSQL inlines it: no function call, no subtransaction per row.
_DATES = """
CREATE FUNCTION {work}.import_ts(v text, tz text) RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN v ~ {unix_seconds} THEN to_timestamp(v::bigint)
    WHEN v ~ {us_datetime} THEN
        CASE WHEN split_part(v, '/', 2)::int <= 28
               OR date_part('month', make_date(left(split_part(v, '/', 3), 4)::int, split_part(v, '/', 1)::int, 1)
                                     + (split_part(v, '/', 2)::int - 1)) = split_part(v, '/', 1)::int
             THEN v::timestamp AT TIME ZONE tz END
    WHEN v ~ {iso_8601} THEN
        CASE WHEN substr(v, 9, 2)::int <= 28
               OR date_part('month', make_date(left(v, 4)::int, substr(v, 6, 2)::int, 1)
                                     + (substr(v, 9, 2)::int - 1)) = substr(v, 6, 2)::int
             THEN CASE WHEN v ~ {with_offset} THEN v::timestamptz
                       ELSE v::timestamp AT TIME ZONE tz END
        END
END
$$;
-- The portal's CSV form, read by PostgreSQL's own timestamp input: a fraction of the
-- cost of the checks above. It raises an error on an impossible date instead of giving
-- NULL, so it is only tried on a whole file at once; see `rows_check`. What that input
-- takes and the checks above do not (hour 00, second 60, a year before 1000) goes to them.
CREATE FUNCTION {work}.import_ts_fast(v text, tz text) RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT CASE WHEN v LIKE '__/__/____ __:__:__ _M' AND substr(v, 12, 2) <> '00' AND substr(v, 18, 2) <> '60'
                 AND substr(v, 7, 1) <> '0'
            THEN v::timestamp AT TIME ZONE tz ELSE {work}.import_ts(v, tz) END
$$
"""

# Two layers: the format's fields and their parsed values, then the reason a row cannot
# be loaded, if any, and its tracking id. The inner layer draws the row's random bytes
# `u`; a layer calling a volatile function is never folded into the one around it, so
# each date is parsed once however often the outer layer looks at it. No OFFSET 0 to
# the same end: it would keep the parsing out of parallel workers.
_ROWS = """
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
# The fields kept as written; dates and coordinates are kept only parsed (the checks
# quote the text of an unreadable one in the row's reason).
_KEPT = tuple(f for f in COLUMNS if f not in ("created", "closed", "latitude", "longitude"))


def tracking_sql(uuid_bytes: sql.Composable) -> sql.Composable:
    """A tracking id from a random UUID's bytes: five random bits per character (the
    alphabet has 32), from bytes whose low five bits carry no version or variant."""
    assert len(TRACKING_ALPHABET) == 32
    random_bytes = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15][:TRACKING_LENGTH]
    return sql.SQL(" || ").join(
        compose(
            "substr({alphabet}, (get_byte({bytes}, {n}) & 31) + 1, 1)",
            alphabet=sql.Literal(TRACKING_ALPHABET),
            bytes=uuid_bytes,
            n=sql.Literal(n),
        )
        for n in random_bytes
    )


def date_functions_create(cursor: CursorWrapper, work: str) -> None:
    run(
        cursor,
        _DATES,
        work=work,
        unix_seconds=sql.Literal(_UNIX_SECONDS),
        us_datetime=sql.Literal(_US_DATETIME),
        iso_8601=sql.Literal(_ISO_8601),
        with_offset=sql.Literal(_WITH_OFFSET),
    )


def rows_check(cursor: CursorWrapper, work: str, fields: Fields, tz: str) -> None:
    """`{work}.rows`: every staged row parsed and checked, dates without an offset in
    the time zone `tz`. A file of Chicago portal CSV dates is read the fast way first;
    an impossible date among them (an error there) sends the whole file through the
    strict checks, which reject such rows one by one instead."""

    def check(ts: str) -> None:
        run(
            cursor,
            _ROWS,
            {"tz": tz},
            work=work,
            ts=sql.Identifier(ts),
            number=sql.Literal(_NUMBER),
            kept=sql.SQL(", ").join(sql.Identifier("p", f) for f in _KEPT),
            tracking=tracking_sql(sql.Identifier("p", "u")),
            fields=sql.SQL(", ").join(
                compose("{value} AS {name}", value=fields.get(f, sql.SQL("''")), name=sql.Identifier(f))
                for f in COLUMNS
            ),
        )

    try:
        with transaction.atomic():
            check("import_ts_fast")
        return
    except DataError as exc:
        if not isinstance(
            exc.__cause__, (psycopg.errors.InvalidDatetimeFormat, psycopg.errors.DatetimeFieldOverflow)
        ):
            raise
    check("import_ts")


def rejected_rows_write(cursor: CursorWrapper, work: str, batch_id: int, header: list[str]) -> int:
    """Keep each rejected row whole, with its line and reason; returns how many."""
    run(
        cursor,
        """INSERT INTO reports_rejectedrow (batch_id, line, source_id, reason, raw)
           SELECT %s, r.line, left(r.source_id, 100), r.reason, jsonb_object(%s::text[], ARRAY[{columns}])
           FROM {work}.rows r JOIN {work}.staging s ON s.line = r.line WHERE r.reason IS NOT NULL""",
        [batch_id, header],
        work=work,
        columns=sql.SQL(", ").join(sql.Identifier("s", n) for n in staging_names(header)),
    )
    return cursor.rowcount
