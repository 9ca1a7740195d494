"""Which place a location report is about: an address, a point (the nearest known
location within the radius), an area, or the location of an issue; and how that place is
described in the report. How places are matched: docs/location-reports.md."""

import math
from dataclasses import dataclass

from django.db.models.expressions import RawSQL

from civicpulse.core.geo import METRES_PER_DEGREE, metres_per_degree_lon, search_box
from issues.models import Area, Issue
from reports.addresses import standardise_address
from reports.models import Location
from reports.selectors import location_by_id

# A point finds the nearest known location this close; a location's reports and issues
# are those at its address or this close to its point (the grouping default, so one
# report's neighbours are the same problem's).
RADIUS_M = 50.0


@dataclass
class Resolution:
    """What a request resolved to: a location, an area, or nothing (with the reason)."""

    location: Location | None = None
    area: Area | None = None
    distance_m: float | None = None
    reason: str = ""

    @property
    def resolved(self) -> bool:
        return self.location is not None or self.area is not None


def near_sql(table: str, *, lat: float, lon: float, radius_m: float) -> tuple[str, list[float]]:
    """Ids of `table`'s rows within `radius_m` of the point: the box that holds that
    distance, then planar distance (exact enough at tens of metres), as one statement."""
    west, south, east, north = search_box(lat, lon, radius_m)
    sql = (
        f"SELECT id FROM {table} WHERE latitude BETWEEN %s AND %s AND longitude BETWEEN %s AND %s"
        " AND sqrt(power((latitude - %s) * %s, 2) + power((longitude - %s) * %s, 2)) <= %s"
    )
    return sql, [south, north, west, east, lat, METRES_PER_DEGREE, lon, metres_per_degree_lon(lat), radius_m]


def _planar_m(lat: float, lon: float, lat2: float, lon2: float) -> float:
    return math.hypot(
        (lat2 - lat) * METRES_PER_DEGREE, (lon2 - lon) * METRES_PER_DEGREE * math.cos(math.radians(lat))
    )


def location_resolve(*, request: dict) -> Resolution:
    """`request` holds one of: {"address"}, {"latitude", "longitude"}, {"area"} (a code);
    the staff console names a known location by id ({"location"}, from an issue page)."""
    if request.get("location"):
        location = location_by_id(request["location"])
        if location is None:
            return Resolution(reason="That location is no longer known.")
        return Resolution(location=location)
    if request.get("address"):
        key = standardise_address(request["address"]).key
        if not key:
            return Resolution(reason="The address has no words or numbers to match.")
        location = Location.objects.filter(address_key=key).first()
        if location is None:
            return Resolution(reason=f"No known location has the standardised address '{key}'.")
        return Resolution(location=location)
    if request.get("area"):
        area = Area.objects.filter(code=request["area"]).first()
        if area is None:
            return Resolution(reason=f"No area has the code '{request['area']}'.")
        return Resolution(area=area)
    lat, lon = float(request["latitude"]), float(request["longitude"])
    sql, params = near_sql("reports_location", lat=lat, lon=lon, radius_m=RADIUS_M)
    nearby = list(Location.objects.filter(pk__in=RawSQL(sql, params)))
    if not nearby:
        return Resolution(reason=f"No known location lies within {RADIUS_M:g} m of the point.")
    location = min(nearby, key=lambda loc: (_planar_m(lat, lon, loc.latitude, loc.longitude), loc.pk))
    return Resolution(
        location=location, distance_m=round(_planar_m(lat, lon, location.latitude, location.longitude), 1)
    )


def location_of_issue(*, issue: Issue) -> Location | None:
    """The known location of an issue: its address, else its reports' address, else the
    nearest one to its point within the radius."""
    keys = [issue.address_key] if issue.address_key else []
    keys += list(issue.reports.exclude(address_key="").values_list("address_key", flat=True).distinct()[:5])
    known = {location.address_key: location for location in Location.objects.filter(address_key__in=keys)}
    for key in keys:
        if key in known:
            return known[key]
    if issue.latitude is None or issue.longitude is None:
        return None
    return location_resolve(request={"latitude": issue.latitude, "longitude": issue.longitude}).location


def location_subject(resolution: Resolution) -> dict | None:
    if resolution.location is not None:
        loc = resolution.location
        return {
            "kind": "location",
            "id": loc.pk,
            "address": loc.address,
            "address_key": loc.address_key,
            "latitude": loc.latitude,
            "longitude": loc.longitude,
            "radius_m": RADIUS_M,
            "distance_m": resolution.distance_m,
        }
    if resolution.area is not None:
        return {
            "kind": "area",
            "id": resolution.area.pk,
            "code": resolution.area.code,
            "name": resolution.area.name,
        }
    return None
