"""Small geometry helpers: point in GeoJSON polygon, and the grid cells used to
serialise grouping per neighbourhood."""
import math

# Grid cell size for grouping locks, in degrees (~550 m of latitude). Larger than any
# sensible grouping radius, so a report locks at most a handful of cells.
LOCK_CELL_DEG = 0.005
EARTH_RADIUS_M = 6_371_000.0


def point_in_ring(lon: float, lat: float, ring: list[list[float]]) -> bool:
    """Even-odd rule over one linear ring of [lon, lat] positions."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def point_in_geojson(lat: float, lon: float, geometry: dict) -> bool:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    for rings in polygons:
        # Inside the outer ring and outside every hole.
        if point_in_ring(lon, lat, rings[0]) and not any(point_in_ring(lon, lat, hole) for hole in rings[1:]):
            return True
    return False


def cells_within(lat: float, lon: float, radius_m: float) -> list[tuple[int, int]]:
    """The lock cells a circle of `radius_m` around the point touches, sorted. Two reports
    closer than the radius always share at least one cell: each locks its own cell, and the
    other's cell lies inside its box."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    rows = range(math.floor((lat - dlat) / LOCK_CELL_DEG), math.floor((lat + dlat) / LOCK_CELL_DEG) + 1)
    cols = range(math.floor((lon - dlon) / LOCK_CELL_DEG), math.floor((lon + dlon) / LOCK_CELL_DEG) + 1)
    return sorted((r, c) for r in rows for c in cols)
