"""The grid cells that serialise grouping per neighbourhood: two reports close enough to
join one issue always lock a cell in common, so they are grouped one after the other.
(Geometry itself, on the one sphere every distance is measured on, is the kernel's:
civicpulse.core.geo.)"""

import math

from civicpulse.core.geo import EARTH_RADIUS_M

# Grid cell size for grouping locks, in degrees (~550 m of latitude). Larger than any
# sensible grouping radius, so a report locks at most a handful of cells.
LOCK_CELL_DEG = 0.005

# The largest grouping distance a tenant may set (policy or category), in metres. Beyond
# a couple of kilometres "the same problem" stops meaning anything, and every candidate
# query and neighbourhood lock grows with the square of the distance.
MAX_GROUP_RADIUS_M = 2000

# The most cells one report locks. A circle needing more (a large radius far from the
# equator) takes the tenant's whole grouping lock instead: one lock, never thousands.
MAX_LOCK_CELLS = 64


def cells_within(lat: float, lon: float, radius_m: float) -> list[tuple[int, int]] | None:
    """The lock cells a circle of `radius_m` around the point touches, sorted; None when
    that is more than MAX_LOCK_CELLS (the caller then locks the tenant's grouping whole).
    Two reports closer than the radius always share at least one cell: each locks its own
    cell, and the other's cell lies inside its box (widened a little for rounding, as
    search_box is)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M * 1.0001)
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    rows = range(math.floor((lat - dlat) / LOCK_CELL_DEG), math.floor((lat + dlat) / LOCK_CELL_DEG) + 1)
    cols = range(math.floor((lon - dlon) / LOCK_CELL_DEG), math.floor((lon + dlon) / LOCK_CELL_DEG) + 1)
    if len(rows) * len(cols) > MAX_LOCK_CELLS:  # counted before any list is made
        return None
    return sorted((r, c) for r in rows for c in cols)
