"""Standardising the checked rows: each source category to one of the tenant's, each
address to its standard parts and key, and the rows to load (one per source id, none an
earlier batch loaded) into `{work}.valid` with both."""

from django.db.backends.utils import CursorWrapper
from psycopg import sql

from civicpulse.core.sql import compose, copy, run, run_many
from issues.models import Category, IssueStatus
from llm.offline import classify_offline
from reports.addresses import standardise_address, standardise_parts
from reports.imports.formats import STATUSES
from reports.services.pipeline import category_info


def category_map(raw_values: list[str], explicit: dict[str, str]) -> tuple[dict[str, int], int]:
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
        hit = (
            by_code.get(explicit.get(raw, ""))
            or by_code.get(raw.lower().replace(" ", "_"))
            or by_name.get(raw.lower())
        )
        if hit is None:
            guess = classify_offline(raw, infos)
            hit = (
                by_code.get(guess.category) if guess.category is not None and guess.confidence > 0.1 else None
            )
        if hit is None:
            hit, unknown = other, unknown + 1
        if hit is not None:
            mapping[raw] = hit.pk
    return mapping, unknown


def categories_create(cursor: CursorWrapper, work: str, explicit: dict[str, str]) -> int:
    """`{work}.categories` (raw, category_id) for the good rows' categories; returns how
    many of those matched none of the tenant's."""
    run(cursor, "SELECT DISTINCT category FROM {work}.rows WHERE reason IS NULL", work=work)
    mapping, unknown = category_map([r[0] for r in cursor.fetchall()], explicit)
    run(cursor, "CREATE UNLOGGED TABLE {work}.categories (raw text, category_id bigint)", work=work)
    run_many(cursor, "INSERT INTO {work}.categories VALUES (%s, %s)", list(mapping.items()), work=work)
    return unknown


_ADDRESS_PARTS = ("address", "street_number", "street_direction", "street_name", "street_type", "zip")


def addresses_create(cursor: CursorWrapper, work: str) -> None:
    """`{work}.addresses`: each distinct address standardised once (311 data repeats
    them), from the split columns when the file has them, else parsed from the one-line
    address."""
    run(
        cursor,
        """SELECT DISTINCT {parts} FROM {work}.rows
           WHERE reason IS NULL AND (address <> '' OR street_name <> '')""",
        work=work,
        parts=sql.SQL(", ").join(map(sql.Identifier, _ADDRESS_PARTS)),
    )
    rows = cursor.fetchall()
    run(
        cursor,
        """CREATE UNLOGGED TABLE {work}.addresses (id int PRIMARY KEY, address text, street_number text,
               street_direction text, street_name text, street_type text, zip_in text, key text, number text,
               direction text, street text, std_type text, unit text, zip text)""",
        work=work,
    )
    with copy(cursor, "COPY {work}.addresses FROM STDIN", work=work) as addresses:
        for n, (address, number, direction, name, street_type, zip_code) in enumerate(rows):
            if number and name:
                std = standardise_parts(
                    number=number, direction=direction, street=name, street_type=street_type, zip=zip_code
                )
            else:
                std = standardise_address(address)
            addresses.write_row(
                (
                    n,
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
    run(cursor, "ANALYZE {work}.addresses", work=work)


def valid_rows_create(cursor: CursorWrapper, work: str, source: str) -> None:
    """`{work}.valid`, the rows to load: one per source id (exports repeat rows), none an
    earlier batch loaded, with their category, grouping rules and address key. Needs
    `{work}.categories`, `{work}.addresses` and `{work}.grouping`; drops `{work}.rows`."""
    statuses = sql.SQL(" ").join(
        compose("WHEN {raw} THEN {status}", raw=sql.Literal(k), status=sql.Literal(str(v)))
        for k, v in STATUSES.items()
    )
    # The first good row of each source id, as a table of its own: the aggregate and
    # the join below are then shared among parallel workers, not left to one process.
    run(
        cursor,
        """CREATE UNLOGGED TABLE {work}.firsts AS
           SELECT min(line) AS line FROM {work}.rows WHERE reason IS NULL GROUP BY source_id;
           ANALYZE {work}.firsts""",
        work=work,
    )
    run(
        cursor,
        """CREATE UNLOGGED TABLE {work}.valid AS
           SELECT r.line, r.source_id, r.created_at,
                  -- A closing time before the opening one is unusable: unknown, not made up.
                  CASE WHEN r.closed_at >= r.created_at THEN r.closed_at END AS closed_at,
                  CASE lower(r.status) {statuses} ELSE {open} END AS status,
                  m.category_id, d.id AS department_id, COALESCE(c.default_severity, 'medium') AS severity,
                  g.radius, g.window_hours,
                  r.description, left(r.address, 500) AS address, a.id AS address_ref,
                  COALESCE(a.key, '') AS address_key, r.lat, r.lon, r.parent_id, r.tracking_id
           FROM {work}.rows r
           LEFT JOIN {work}.categories m ON m.raw = r.category
           LEFT JOIN issues_category c ON c.id = m.category_id
           -- A retired department is routed nothing new, as issue_open does.
           LEFT JOIN issues_department d ON d.id = c.department_id AND d.active
           LEFT JOIN {work}.grouping g ON g.id = m.category_id
           LEFT JOIN {work}.addresses a
             ON (a.address, a.street_number, a.street_direction, a.street_name, a.street_type, a.zip_in)
              = (r.address, r.street_number, r.street_direction, r.street_name, r.street_type, r.zip)
           JOIN {work}.firsts f ON f.line = r.line
           WHERE NOT EXISTS (SELECT 1 FROM reports_report p WHERE p.source = %(source)s AND p.source_id = r.source_id)""",
        {"source": source},
        work=work,
        statuses=statuses,
        open=sql.Literal(str(IssueStatus.OPEN)),
    )
    run(cursor, "DROP TABLE {work}.rows, {work}.firsts; ANALYZE {work}.valid", work=work)
