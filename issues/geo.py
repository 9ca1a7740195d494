"""The grid cells that serialise grouping per neighbourhood: two reports close enough to
join one issue always lock a cell in common, so they are grouped one after the other.
(Geometry itself, on the one sphere every distance is measured on, is the kernel's:
civicpulse.core.geo.)"""

import math

from civicpulse.core.geo import EARTH_RADIUS_M

# Grid cell size for grouping locks, in degrees (~550 m of latitude). Larger than any
# sensible grouping radius, so a report locks at most a handful of cells.
LOCK_CELL_DEG = 0.005


def cells_within(lat: float, lon: float, radius_m: float) -> list[tuple[int, int]]:
    """The lock cells a circle of `radius_m` around the point touches, sorted. Two reports
    closer than the radius always share at least one cell: each locks its own cell, and the
    other's cell lies inside its box (widened a little for rounding, as search_box is)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M * 1.0001)
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    rows = range(math.floor((lat - dlat) / LOCK_CELL_DEG), math.floor((lat + dlat) / LOCK_CELL_DEG) + 1)
    cols = range(math.floor((lon - dlon) / LOCK_CELL_DEG), math.floor((lon + dlon) / LOCK_CELL_DEG) + 1)
    return sorted((r, c) for r in rows for c in cols)
