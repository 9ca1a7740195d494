"""The findings of a property report, every figure read from the record views
(analytics.records.selectors: the score view, the flags view, the records themselves
and each dataset's freshness). Nothing here scores, and nothing here asks a language
model: the narrative is written from these findings afterwards (narrative.py)."""

import json

from django.core.serializers.json import DjangoJSONEncoder

from analytics.property.lookup import RADIUS_M, Lookup
from analytics.records.rule_defaults import TIER_BOUNDS
from analytics.records.rule_models import PropertyRule, PropertyTierBound
from analytics.records.selectors import dataset_freshness, location_records, property_flags, property_score
from civicpulse.core.geo import METRES_PER_DEGREE, metres_per_degree_lon
from issues.selectors import area_for_point
from reports.models import Location

# Each dataset lists at most this many records, newest first.
RECORD_LIMIT = 50
# The map frames a square this many metres either side of a location no area holds.
MAP_HALF_SIDE_M = 150.0


def _plain(value: object) -> object:
    """Dates, times and decimals as the JSON the report is stored as."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# The field each dataset's records are ordered by, newest first.
NEWEST_BY = {
    "violations": "violation_date",
    "inspections": "inspection_date",
    "permits": "issue_date",
    "311": "submitted_at",
    "tax_sales": "tax_year",
    "vacant_buildings": "issued_date",
}


def _newest(dataset: str, rows: list[dict]) -> str | None:
    """The newest record's date (a tax sale's year), as the records are ordered."""
    value = rows[0].get(NEWEST_BY.get(dataset, ""), None) if rows else None
    return str(value)[:10] if value is not None else None


def _map(location: Location) -> dict:
    """What the map draws, kept in the report so that its PDF needs nothing else: the
    location's point over the area holding it (or a small square around it)."""
    area = area_for_point(location.latitude, location.longitude)
    if area is not None and area.boundary:
        frame = {"name": area.name, "boundary": area.boundary}
    else:
        dlat = MAP_HALF_SIDE_M / METRES_PER_DEGREE
        dlon = MAP_HALF_SIDE_M / metres_per_degree_lon(location.latitude)
        lat, lon = location.latitude, location.longitude
        ring = [
            [lon - dlon, lat - dlat],
            [lon + dlon, lat - dlat],
            [lon + dlon, lat + dlat],
            [lon - dlon, lat + dlat],
            [lon - dlon, lat - dlat],
        ]
        frame = {"name": "", "boundary": {"type": "Polygon", "coordinates": [ring]}}
    return {"latitude": location.latitude, "longitude": location.longitude, "frame": frame}


def _scale() -> dict:
    """The tiers' bounds and the highest score possible (every active rule firing): what
    the score gauge is drawn against."""
    bounds = dict(PropertyTierBound.objects.values_list("tier", "min_score")) or dict(TIER_BOUNDS)
    top = sum(PropertyRule.objects.filter(active=True).values_list("severity", flat=True))
    return {"tier_bounds": bounds, "max_score": max(top, *bounds.values(), 1)}


def property_findings(lookup: Lookup) -> dict:
    """Score, tier, flags, records, freshness and map of a resolved lookup's location."""
    location = lookup.location
    assert location is not None  # only a resolved lookup has findings
    score = property_score(location.pk) or {"raw_score": 0, "tier": None, "flag_codes": []}
    flags = _plain(property_flags(location.pk))
    records = _plain(location_records(location.pk, limit=RECORD_LIMIT))
    assert isinstance(flags, list) and isinstance(records, dict)
    return {
        "location": {
            "id": location.pk,
            "address": location.address,
            "address_key": location.address_key,
            "latitude": location.latitude,
            "longitude": location.longitude,
            "parse_confidence": location.parse_confidence,
            "distance_m": lookup.distance_m,
            "radius_m": RADIUS_M,
        },
        "score": score["raw_score"],
        "tier": score["tier"],
        "scale": _scale(),
        "flag_codes": list(score["flag_codes"] or []),
        "flags": flags,
        "rule_versions": {flag["code"]: flag["rule_version"] for flag in flags},
        "records": records,
        "record_counts": {
            dataset: {"listed": len(rows), "newest": _newest(dataset, rows)}
            for dataset, rows in records.items()
        },
        "record_limit": RECORD_LIMIT,
        "freshness": _plain(dataset_freshness()),
        "map": _map(location),
    }
