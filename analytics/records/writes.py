"""Writing checked record rows: each distinct address standardised once (reports.addresses,
the same keys as the platform's reports), the Location of each address first seen with a
point, the records themselves (each row not loaded before, with its location), and the
parcels their PINs name."""

from django.db.backends.utils import CursorWrapper
from psycopg import sql

from analytics.records.checks import column_value
from analytics.records.datasets import DatasetSpec
from civicpulse.core.sql import copy, run
from reports.addresses import standardise_address, standardise_parts

_PARTS = ("address", "street_number", "street_direction", "street_name", "street_type", "zip")


def valid_rows_create(cursor: CursorWrapper, work: str, spec: DatasetSpec, source: str) -> None:
    """`{work}.valid`: the good rows not loaded before (by source id and row hash), the
    first of each within the file."""
    run(
        cursor,
        """CREATE UNLOGGED TABLE {work}.valid AS
           SELECT r.* FROM {work}.rows r
           JOIN (SELECT min(line) AS line FROM {work}.rows WHERE reason IS NULL GROUP BY source_id, row_hash) f
             ON f.line = r.line
           WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.source_dataset = {source}
                             AND t.source_id = r.source_id AND t.row_hash = r.row_hash);
           ANALYZE {work}.valid""",
        work=work,
        table=sql.Identifier(spec.table),
        source=sql.Literal(source),
    )


def addresses_create(cursor: CursorWrapper, work: str) -> None:
    """`{work}.addresses`: each distinct address of the rows to load, standardised from
    its split columns when it has them, else parsed from the one-line address."""
    run(
        cursor,
        "SELECT DISTINCT {parts} FROM {work}.valid WHERE address <> '' OR street_name <> ''",
        work=work,
        parts=sql.SQL(", ").join(map(sql.Identifier, _PARTS)),
    )
    rows = cursor.fetchall()
    run(
        cursor,
        """CREATE UNLOGGED TABLE {work}.addresses (address text, street_number text, street_direction text,
               street_name text, street_type text, zip_in text, key text, number text, direction text,
               street text, std_type text, unit text, zip text)""",
        work=work,
    )
    with copy(cursor, "COPY {work}.addresses FROM STDIN", work=work) as out:
        for address, number, direction, name, street_type, zip_code in rows:
            if number and name:
                std = standardise_parts(
                    number=number, direction=direction, street=name, street_type=street_type, zip=zip_code
                )
            else:
                std = standardise_address(address)
            out.write_row(
                (
                    address,
                    number,
                    direction,
                    name,
                    street_type,
                    zip_code,
                    std.key,
                    std.number[:20],
                    std.direction[:10],
                    std.street[:200],
                    std.street_type[:20],
                    std.unit[:50],
                    (std.zip or zip_code)[:10],
                )
            )
    run(
        cursor,
        """CREATE INDEX ON {work}.addresses (address, street_number, street_name);
           ANALYZE {work}.addresses;
           CREATE UNLOGGED TABLE {work}.keyed AS
           SELECT v.line, a.key, a.number, a.direction, a.street, v.lat IS NULL AS pointless FROM {work}.valid v JOIN {work}.addresses a
             ON (a.address, a.street_number, a.street_direction, a.street_name, a.street_type, a.zip_in)
              = (v.address, v.street_number, v.street_direction, v.street_name, v.street_type, v.zip)
           WHERE a.key <> '';
           ANALYZE {work}.keyed""",
        work=work,
    )


def locations_write(cursor: CursorWrapper, work: str) -> int:
    """A Location for each address first seen with a point (the first row of it that has
    one); an address already known keeps its point. Keys in order, conflicts ignored, so
    concurrent loads never deadlock or duplicate. Returns how many were created."""
    run(
        cursor,
        """INSERT INTO reports_location (address_key, address, number, direction, street, street_type, unit, zip,
               latitude, longitude, source, created_at)
           SELECT DISTINCT ON (a.key) a.key, left(v.address, 500), a.number, a.direction, a.street, a.std_type,
               a.unit, a.zip, v.lat, v.lon, 'import', now()
           FROM {work}.valid v
           JOIN {work}.addresses a
             ON (a.address, a.street_number, a.street_direction, a.street_name, a.street_type, a.zip_in)
              = (v.address, v.street_number, v.street_direction, v.street_name, v.street_type, v.zip)
           WHERE v.lat IS NOT NULL AND a.key <> ''
             AND NOT EXISTS (SELECT 1 FROM reports_location l WHERE l.address_key = a.key)
           ORDER BY a.key, v.line
           ON CONFLICT (address_key) DO NOTHING""",
        work=work,
    )
    return int(cursor.rowcount)


def parcels_write(cursor: CursorWrapper, work: str, spec: DatasetSpec) -> int:
    """Parcels of the PINs the rows name: a permit's PINs are at its location (a parcel
    not located yet takes it), a tax sale's PIN is recorded unlocated if new. Returns
    how many were created or located."""
    if spec.name == "permits":
        run(
            cursor,
            """INSERT INTO analytics_parcel (pin, location_id, created_at)
               SELECT DISTINCT ON (pin) pin, location_id, now()
               FROM (SELECT unnest(v.pins_v) AS pin, l.id AS location_id, v.line
                     FROM {work}.valid v LEFT JOIN {work}.keyed k ON k.line = v.line
                     LEFT JOIN reports_location l ON l.address_key = k.key) x
               ORDER BY pin, location_id IS NULL, line
               ON CONFLICT (pin) DO UPDATE SET location_id = EXCLUDED.location_id
               WHERE analytics_parcel.location_id IS NULL AND EXCLUDED.location_id IS NOT NULL""",
            work=work,
        )
    elif spec.name == "tax_sales":
        run(
            cursor,
            """INSERT INTO analytics_parcel (pin, created_at)
               SELECT DISTINCT pin_v, now() FROM {work}.valid ORDER BY 1
               ON CONFLICT (pin) DO NOTHING""",
            work=work,
        )
    else:
        return 0
    return int(cursor.rowcount)


def records_write(cursor: CursorWrapper, work: str, spec: DatasetSpec, source: str, batch_id: int) -> int:
    """Insert the rows to load into the dataset's table; returns how many."""
    columns = [f.name for f in spec.fields] + [c for c in spec.address_columns]
    location: sql.Composable
    joins: sql.Composable
    if spec.located:
        location = sql.SQL("COALESCE(l.id, s.id)")
        # A row without a point whose address is not known as written (the vacant-building
        # export writes `2955 N AVERS`, without the street type) joins the one location
        # with the same house number, direction and street, if exactly one has them.
        joins = sql.SQL(
            """LEFT JOIN {work}.keyed k ON k.line = r.line
               LEFT JOIN reports_location l ON l.address_key = k.key
               LEFT JOIN LATERAL (
                   SELECT min(o.id) AS id FROM reports_location o
                   WHERE l.id IS NULL AND k.pointless AND k.number <> '' AND k.street <> ''
                     AND o.street = k.street AND o.number = k.number AND o.direction = k.direction
                   HAVING count(*) = 1) s ON true"""
        ).format(work=sql.Identifier(work))
    else:
        location = sql.SQL("pa.location_id")
        joins = sql.SQL("LEFT JOIN analytics_parcel pa ON pa.pin = r.pin_v")
    run(
        cursor,
        """INSERT INTO {table} (source_dataset, source_id, row_hash, import_batch_id, location_id, loaded_at, {columns})
           SELECT {source}, r.source_id, r.row_hash, {batch}, {location}, now(), {values}
           FROM {work}.valid r {joins}
           ORDER BY r.line
           ON CONFLICT (source_dataset, source_id, row_hash) DO NOTHING""",
        work=work,
        table=sql.Identifier(spec.table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        source=sql.Literal(source),
        batch=sql.Literal(batch_id),
        location=location,
        joins=joins,
        values=sql.SQL(", ").join(column_value(spec, c) for c in columns),
    )
    return int(cursor.rowcount)


def keyed_create_unlocated(cursor: CursorWrapper, work: str) -> None:
    """An empty `{work}.keyed` for datasets located otherwise than by address."""
    run(
        cursor,
        "CREATE UNLOGGED TABLE {work}.keyed (line bigint, key text, number text, direction text, street text,"
        " pointless boolean)",
        work=work,
    )


def table_analyze_if_grown(cursor: CursorWrapper, table: str, added: int) -> None:
    """ANALYZE `table` when this load added a tenth of its rows or more, or the planner
    takes it for empty. The views over a freshly loaded table must not be planned on
    statistics from before the load: a table analysed while it held only dead rows (a
    failed load) is estimated at one row whatever it holds, and the whole-table views
    then join row by row for minutes instead of a second. Autovacuum would come only
    after the load's commit, and then only when its thresholds are reached."""
    if added <= 0:
        return
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
    (estimate,) = cursor.fetchone()
    if estimate <= 0 or added * 10 >= estimate:
        run(cursor, "ANALYZE {table}", table=sql.Identifier(table))
