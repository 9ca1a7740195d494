"""The four-tier property lookup: which known location a query means, and how sure the
match is. First match wins: the parcel number (EXACT_PIN), the standardised address
(EXACT_ADDRESS), house number + street name + ZIP code (STREET_ZIP), the nearest location
within 50 m of a point (GEOSPATIAL); else NO_MATCH with a warning. Deterministic: no
language model is asked anything here. docs/property.md explains each tier."""

from dataclasses import dataclass

from django.db import connection

from analytics.property.models import MatchConfidence
from analytics.records.pins import pin_normalise
from analytics.records.selectors import parcel_location
from civicpulse.core.geo import search_box
from reports.addresses import standardise_address
from reports.models import Location

# A point finds the nearest known location this close, as location reports do.
RADIUS_M = 50.0

# The box first (the (latitude, longitude) index), then earthdistance's sphere, the one
# every distance in the product is measured on; ties broken by id so answers repeat.
_NEAREST = """
    SELECT id, public.earth_distance(public.ll_to_earth(%(lat)s, %(lon)s), public.ll_to_earth(latitude, longitude))
    FROM reports_location
    WHERE latitude BETWEEN %(south)s AND %(north)s AND longitude BETWEEN %(west)s AND %(east)s
      AND public.earth_distance(public.ll_to_earth(%(lat)s, %(lon)s), public.ll_to_earth(latitude, longitude))
          <= %(radius)s
    ORDER BY 2, 1
    LIMIT 1
"""


@dataclass(frozen=True)
class Lookup:
    """What a query resolved to. `warning` says what to check (a loose match, a parse of
    low confidence) or why nothing matched."""

    location: Location | None
    match_confidence: str
    warning: str = ""
    distance_m: float | None = None

    @property
    def resolved(self) -> bool:
        return self.location is not None

    def as_dict(self) -> dict:
        loc = self.location
        return {
            "location_id": loc.pk if loc else None,
            "match_confidence": self.match_confidence,
            "address": loc.address if loc else None,
            "resolved": loc is not None,
            "warning": self.warning,
            "parse_confidence": loc.parse_confidence if loc else None,
            "distance_m": self.distance_m,
        }


def _found(location: Location, confidence: str, warning: str = "", distance_m: float | None = None) -> Lookup:
    if location.parse_confidence == "LOW":
        low = "This location's address was parsed with low confidence: check it is the place meant."
        warning = f"{warning} {low}".strip()
    return Lookup(location, confidence, warning, distance_m)


def _by_pin(pin: str) -> Lookup | None:
    normal = pin_normalise(pin)
    if not normal:
        return None
    location_id = parcel_location(normal)
    location = Location.objects.filter(pk=location_id).first() if location_id else None
    return _found(location, MatchConfidence.EXACT_PIN) if location else None


def _by_address(address: str) -> Lookup | None:
    std = standardise_address(address)
    if not std.key:
        return None
    location = Location.objects.filter(address_key=std.key).first()
    if location is not None:
        return _found(location, MatchConfidence.EXACT_ADDRESS)
    if not (std.number and std.street and std.zip):
        return None
    # The same house on the same street in the same ZIP code, whatever the direction,
    # street type or unit said: the one without a unit first, then the oldest.
    location = (
        Location.objects.filter(number=std.number, street=std.street, zip=std.zip)
        .order_by("unit", "pk")
        .first()
    )
    if location is None:
        return None
    return _found(
        location,
        MatchConfidence.STREET_ZIP,
        f"Matched by house number, street and ZIP code only: the record is '{location.address}'.",
    )


def _by_point(lat: float, lon: float) -> Lookup | None:
    west, south, east, north = search_box(lat, lon, RADIUS_M)
    params = {"lat": lat, "lon": lon, "west": west, "south": south, "east": east, "north": north}
    with connection.cursor() as cursor:
        cursor.execute(_NEAREST, {**params, "radius": RADIUS_M})
        row = cursor.fetchone()
    if row is None:
        return None
    location = Location.objects.get(pk=row[0])
    distance = round(float(row[1]), 1)
    return _found(
        location,
        MatchConfidence.GEOSPATIAL,
        f"Matched by position: the nearest known location, {distance:g} m away, is '{location.address}'.",
        distance,
    )


def property_lookup(
    *,
    pin: str = "",
    address: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
) -> Lookup:
    """Try each tier the query gives the means for, in order; the first match wins."""
    if pin and (found := _by_pin(pin)):
        return found
    if address and (found := _by_address(address)):
        return found
    if latitude is not None and longitude is not None and (found := _by_point(latitude, longitude)):
        return found
    asked = [
        label
        for label, given in (
            ("parcel number", bool(pin)),
            ("address", bool(address)),
            (f"point within {RADIUS_M:g} m", latitude is not None and longitude is not None),
        )
        if given
    ]
    return Lookup(
        None,
        MatchConfidence.NO_MATCH,
        f"No known location matches the {' or '.join(asked) or 'query'}: check the spelling, "
        "or search by parcel number or position.",
    )


def location_lookup_by_id(location_id: int) -> Lookup:
    """A location named by its id (from an earlier lookup): exact by definition."""
    location = Location.objects.filter(pk=location_id).first()
    if location is None:
        return Lookup(None, MatchConfidence.NO_MATCH, f"No location has the id {location_id}.")
    return _found(location, MatchConfidence.LOCATION_ID)
