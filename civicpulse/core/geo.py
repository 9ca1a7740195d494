"""Geometry on one sphere: GeoJSON polygons and points in them, and the box of
longitudes and latitudes around a distance.

Every distance the product compares (grouping, location reports, the rules) is measured
by PostgreSQL's earthdistance, on its sphere of radius public.earth(). Python uses the
same sphere, so a box computed here always holds what SQL will find within the radius.
"""

import math

# The radius of earthdistance's sphere (public.earth()), in metres.
EARTH_RADIUS_M = 6_378_168.0
# Metres in one degree of latitude (or of longitude at the equator) on that sphere.
METRES_PER_DEGREE = math.radians(EARTH_RADIUS_M)


def metres_per_degree_lon(latitude: float) -> float:
    """Metres in one degree of longitude at `latitude` (kept above zero near the poles)."""
    return METRES_PER_DEGREE * max(math.cos(math.radians(latitude)), 0.01)


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
    coordinates = geometry["coordinates"]
    return coordinates if geometry.get("type") == "MultiPolygon" else [coordinates]


def point_in_geojson(lat: float, lon: float, geometry: dict) -> bool:
    for rings in geojson_polygons(geometry):
        # Inside the outer ring and outside every hole.
        if point_in_ring(lon, lat, rings[0]) and not any(point_in_ring(lon, lat, hole) for hole in rings[1:]):
            return True
    return False


def search_box(latitude: float, longitude: float, radius_m: float) -> tuple[float, float, float, float]:
    """West, south, east and north of a box of longitudes and latitudes holding every
    point of the sphere within `radius_m` of the point, widened a little for rounding.
    Where that circle reaches a pole or crosses the 180th meridian the box spans every
    longitude: less narrow, never missing a point."""
    angle = radius_m / EARTH_RADIUS_M * 1.0001 + 1e-12  # radians
    south, north = latitude - math.degrees(angle), latitude + math.degrees(angle)
    cos_lat = math.cos(math.radians(latitude))
    if south <= -90 or north >= 90 or math.sin(angle) >= cos_lat:
        return -180.0, max(south, -90.0), 180.0, min(north, 90.0)
    # The widest longitude a circle of that angle reaches at this latitude.
    spread = math.degrees(math.asin(math.sin(angle) / cos_lat))
    if longitude - spread < -180 or longitude + spread > 180:
        return -180.0, south, 180.0, north
    return longitude - spread, south, longitude + spread, north


# Decimal places of a point in what anyone may read of a tenant that is not a city
# (docs/security.md): about 100 m.
PUBLIC_POINT_DECIMALS = 3
# The farthest rounding to PUBLIC_POINT_DECIMALS moves a point (half a unit of the last
# place on both axes, about 79 m at the equator), rounded up: what a search of rounded
# points widens its box by so it still holds every point it must measure.
PUBLIC_ROUNDING_SLACK_M = 80.0


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Metres between two points on the sphere, as earthdistance measures them."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
