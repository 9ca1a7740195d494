"""Placing rows into areas, set-based: the area a live report at the same point would get
(issues.selectors.area_for_point), tested in SQL with PostgreSQL's own polygon type."""

from django.db.backends.utils import CursorWrapper
from psycopg import sql

from civicpulse.core.geo import geojson_polygons
from civicpulse.core.sql import compose, copy, run
from issues.models import Area


def area_parts_create(cursor: CursorWrapper, work: str) -> int:
    """`{work}.area_parts`: the tenant's areas as PostgreSQL polygons, one row per ring
    (outer or hole), in the order the live pipeline tries them (by name). Returns the
    number of rings: none, and no row has an area."""
    run(
        cursor,
        """CREATE UNLOGGED TABLE {work}.area_parts (area_id bigint, ord int, part int, hole boolean, poly polygon,
               bbox box)""",
        work=work,
    )
    rows = []
    # Only active areas, as area_for_point: a retired area is given no new issues.
    areas = (
        Area.objects.filter(active=True)
        .exclude(boundary=None)
        .order_by("name", "pk")
        .values_list("pk", "boundary")
    )
    for order, (area_id, geometry) in enumerate(areas):
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        for part, rings in enumerate(geojson_polygons(geometry)):
            for k, ring in enumerate(rings):
                if len(ring) >= 3:
                    points = ",".join(f"({float(x)!r},{float(y)!r})" for x, y, *_ in ring)
                    rows.append((area_id, order, part, k > 0, f"({points})"))
    with copy(
        cursor, "COPY {work}.area_parts (area_id, ord, part, hole, poly) FROM STDIN", work=work
    ) as table:
        for row in rows:
            table.write_row(row)
    run(cursor, "UPDATE {work}.area_parts SET bbox = box(poly); ANALYZE {work}.area_parts", work=work)
    return len(rows)


def area_of_row(work: str) -> sql.Composed:
    """The area of row `v` (its `lat` and `lon`), as an expression: the first area (by
    name) whose outer ring holds the point and none of whose holes in that polygon do;
    the box first, as it is cheap. Needs `{work}.area_parts`."""
    return compose(
        """(SELECT o.area_id FROM {work}.area_parts o
            WHERE v.lat IS NOT NULL AND NOT o.hole AND o.bbox @> point(v.lon, v.lat) AND o.poly @> point(v.lon, v.lat)
              AND NOT EXISTS (SELECT 1 FROM {work}.area_parts h
                              WHERE h.hole AND h.area_id = o.area_id AND h.part = o.part
                                AND h.bbox @> point(v.lon, v.lat) AND h.poly @> point(v.lon, v.lat))
            ORDER BY o.ord LIMIT 1)""",
        work=work,
    )
