"""Small geometry helpers: GeoJSON polygons and points in them, the box around a
grouping distance, and the grid cells used to serialise grouping per neighbourhood."""

import math

# Grid cell size for grouping locks, in degrees (~550 m of latitude). Larger than any
# sensible grouping radius, so a report locks at most a handful of cells.
LOCK_CELL_DEG = 0.005
EARTH_RADIUS_M = 6_371_000.0
# The sphere PostgreSQL's earthdistance measures on (public.earth()): grouping distances.
EARTHDISTANCE_RADIUS_M = 6_378_168.0


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


def geojson_polygons(geometry: dict) -> list[list[list[list[float]]]]:
    """The polygons of a GeoJSON Polygon or MultiPolygon, each a list of rings: the
    outer one first, then its holes."""
    return geometry["coordinates"] if geometry.get("type") == "MultiPolygon" else [geometry["coordinates"]]


def point_in_geojson(lat: float, lon: float, geometry: dict) -> bool:
    for rings in geojson_polygons(geometry):
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


def search_box(latitude: float, longitude: float, radius_m: float) -> tuple[float, float, float, float]:
    """West, south, east and north of a box of longitudes and latitudes holding every
    point of the sphere within `radius_m` of the point, widened a little for rounding.
    Where that circle reaches a pole or crosses the 180th meridian the box spans every
    longitude: less narrow, never missing a point."""
    angle = radius_m / EARTHDISTANCE_RADIUS_M * 1.0001 + 1e-12  # radians
    south, north = latitude - math.degrees(angle), latitude + math.degrees(angle)
    cos_lat = math.cos(math.radians(latitude))
    if south <= -90 or north >= 90 or math.sin(angle) >= cos_lat:
        return -180.0, max(south, -90.0), 180.0, min(north, 90.0)
    # The widest longitude a circle of that angle reaches at this latitude.
    spread = math.degrees(math.asin(math.sin(angle) / cos_lat))
    if longitude - spread < -180 or longitude + spread > 180:
        return -180.0, south, 180.0, north
    return longitude - spread, south, longitude + spread, north
