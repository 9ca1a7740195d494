"""Grouping rows into issues, set-based: the live pipeline's distance, time and category
rules (issues.services.issue_group_report) over a whole work schema at once."""

import math
from datetime import datetime

from django.db.backends.utils import CursorWrapper
from psycopg import sql

from civicpulse.core.geo import METRES_PER_DEGREE
from civicpulse.core.sql import compose, run
from issues.models import OPEN_STATUSES
from issues.selectors import grouping_policy_get


def grouping_rules_create(cursor: CursorWrapper, work: str) -> None:
    """`{work}.grouping`: each category's grouping distance and window, the tenant's
    policy where the category sets none."""
    policy = grouping_policy_get()
    run(
        cursor,
        """CREATE UNLOGGED TABLE {work}.grouping AS
           SELECT id, COALESCE(group_radius_m, %s) AS radius, COALESCE(group_window_hours, %s) AS window_hours
           FROM issues_category""",
        [policy.radius_m, policy.window_hours],
        work=work,
    )


def rows_group(
    cursor: CursorWrapper,
    work: str,
    *,
    first: datetime | None,
    last: datetime | None,
    max_lat: float | None,
    bulk: bool,
) -> None:
    """Give every row of `{work}.valid` its issue, into `{work}.assign`.

    1. The links the source states (`{work}.links`, made by the caller) stand.
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

    `first` and `last` are the earliest and latest creation times among the rows, and
    `max_lat` their latitude farthest from the equator (None when no row has a point).
    `bulk`: the issues table is locked for this load alone (see `_assign`).
    """
    if first is not None and last is not None and max_lat is not None:
        _link_nearby(cursor, work, first, last, max_lat)
    _find_roots(cursor, work)
    _assign(cursor, work, bulk)


# A point's cell, and which neighbour across each axis its own half of the cell faces
# (-1 or 1); `y` and `x` are its coordinates in cell widths.
_CELLS = """floor({y})::bigint AS cy, floor({x})::bigint AS cx,
            CASE WHEN {y} - floor({y}) < 0.5 THEN -1 ELSE 1 END AS sy,
            CASE WHEN {x} - floor({x}) < 0.5 THEN -1 ELSE 1 END AS sx"""
_IN_CELL_WIDTHS = "({degrees} * {scale} / (2 * {radius}))"
# Each point as a unit vector, once: within the distance means within the chord that
# distance subtends on earthdistance's sphere (public.earth()), so pairs are compared
# with a few multiplications instead of earth_distance(ll_to_earth()).
_XYZ = """cos(radians({lat})) * cos(radians({lon})) AS x, cos(radians({lat})) * sin(radians({lon})) AS y,
          sin(radians({lat})) AS z"""


def _cells_and_vector(lat: sql.Identifier, lon: sql.Identifier, radius: sql.Identifier) -> sql.Composed:
    def across(degrees: sql.Identifier, scale: str) -> sql.Composed:
        return compose(_IN_CELL_WIDTHS, degrees=degrees, radius=radius, scale=sql.Placeholder(scale))

    return compose(
        "{cells}, {xyz}",
        cells=compose(_CELLS, y=across(lat, "yscale"), x=across(lon, "xscale")),
        xyz=compose(_XYZ, lat=lat, lon=lon),
    )


def _link_nearby(cursor: CursorWrapper, work: str, first: datetime, last: datetime, max_lat: float) -> None:
    # Cells at least twice the category's distance wide everywhere in the rows: the
    # metres of a degree of latitude on earthdistance's sphere, rounded down, and the
    # longitude scale of the latitude farthest from the equator.
    yscale = math.floor(METRES_PER_DEGREE)
    xscale = yscale * math.cos(math.radians(min(max_lat + 0.01, 89.9)))
    run(
        cursor,
        """CREATE UNLOGGED TABLE {work}.points AS
           SELECT v.line, v.line IN (SELECT line FROM {work}.links) AS linked,
                  NULL::bigint AS issue_id, v.category_id, v.radius, v.window_hours, v.lat, v.lon,
                  v.created_at, v.created_at AS last_at, 'infinity'::timestamptz AS open_until,
                  {rows_geometry},
                  (2 * sin(v.radius / (2 * public.earth()))) ^ 2 AS chord2,
                  v.created_at - make_interval(hours => v.window_hours) AS since
           FROM {work}.valid v WHERE v.lat IS NOT NULL AND v.radius > 0
           UNION ALL
           SELECT NULL, true, i.id, i.category_id, g.radius, g.window_hours, i.latitude, i.longitude,
                  i.created_at, i.last_report_at,
                  CASE WHEN i.status = ANY(%(open)s) THEN 'infinity'
                       ELSE COALESCE(i.resolved_at, i.closed_at, '-infinity') END,
                  {issues_geometry}, NULL, NULL
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
        {
            "yscale": yscale,
            "xscale": xscale,
            "first": first,
            "last": last,
            "open": [str(status) for status in OPEN_STATUSES],
        },
        work=work,
        rows_geometry=_cells_and_vector(
            sql.Identifier("v", "lat"), sql.Identifier("v", "lon"), sql.Identifier("v", "radius")
        ),
        issues_geometry=_cells_and_vector(
            sql.Identifier("i", "latitude"), sql.Identifier("i", "longitude"), sql.Identifier("g", "radius")
        ),
    )


def _find_roots(cursor: CursorWrapper, work: str) -> None:
    run(
        cursor,
        """CREATE INDEX ON {work}.links (parent_line);
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
           ANALYZE {work}.roots;""",
        work=work,
    )


_ASSIGN = """CREATE UNLOGGED TABLE {work}.assign AS
   {numbering}
   -- The whole row with its issue: the writing steps read this one table rather
   -- than join two of a million rows each.
   SELECT v.*, COALESCE(ro.issue_id, {new_id}) AS issue_id, COALESCE(ro.method, 'import') AS method,
          ro.line IS NULL AS opens, ro.issue_id IS NOT NULL AS existing
   FROM {work}.valid v
   LEFT JOIN {work}.roots ro ON ro.line = v.line
   {numbered};
   DROP TABLE {work}.valid;
   ANALYZE {work}.assign;"""


def _assign(cursor: CursorWrapper, work: str, bulk: bool) -> None:
    """Each row's issue: its root's existing issue, or a new id for the issue its root opens."""
    if bulk:
        # No one else can insert issues while the table is locked: take one block of the
        # sequence, an id for each line of the file, so a row that opens an issue gets
        # its line's id and one that joins gets its root's, by arithmetic rather than by
        # numbering the opening rows and looking the numbers up. Lines that open no issue
        # (rejected, repeated, joining) leave their ids unused.
        run(cursor, "SELECT min(line), max(line) FROM {work}.valid", work=work)
        first_line, last_line = cursor.fetchone()
        run(cursor, "SELECT nextval(pg_get_serial_sequence('issues_issue', 'id'))")
        base = cursor.fetchone()[0]
        run(
            cursor,
            "SELECT setval(pg_get_serial_sequence('issues_issue', 'id'), %s)",
            [base + (last_line or 0) - (first_line or 0)],
        )
        run(
            cursor,
            _ASSIGN,
            {"offset": base - (first_line or 0)},
            work=work,
            numbering=sql.SQL(""),
            numbered=sql.SQL(""),
            new_id=compose("{offset} + COALESCE(ro.root_line, v.line)", offset=sql.Placeholder("offset")),
        )
        return
    # Ids drawn one by one, as live reports draw theirs at the same time.
    run(
        cursor,
        _ASSIGN,
        work=work,
        numbering=compose(
            """WITH new AS MATERIALIZED (
                   SELECT v.line, nextval(pg_get_serial_sequence('issues_issue', 'id')) AS issue_id
                   FROM {work}.valid v WHERE v.line NOT IN (SELECT line FROM {work}.roots)
               )""",
            work=work,
        ),
        numbered=sql.SQL("LEFT JOIN new n ON n.line = COALESCE(ro.root_line, v.line)"),
        new_id=sql.SQL("n.issue_id"),
    )
