"""Address suggestions for the report form: the tenant's own known places (Location)
first, then, when the operator configured one (GEOCODER_URL), a Nominatim-compatible
geocoder asked from the server with a short timeout. Only what a resident may see goes
out: the address text and its point. A geocoder's answer outside the tenant's areas is
dropped (the form would refuse it), and a failing geocoder gives nothing, never an error."""

import json
import logging
import urllib.parse
import urllib.request
from typing import TypedDict

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from civicpulse.core.tenancy import current_schema
from reports.addresses import normalise_address
from reports.models import Location
from reports.public_issues import publication
from reports.services.locations import point_in_tenant_areas, tenant_areas_bounded

logger = logging.getLogger(__name__)

SUGGESTIONS = 8
MIN_CHARS = 3
# Nominatim's usage policy asks for caching; a place's address rarely moves in a day.
GEOCODER_CACHE_S = 24 * 3600


class Suggestion(TypedDict):
    address: str
    latitude: float
    longitude: float
    source: str  # "known": the tenant's own places; "geocoder": the operator's geocoder


def address_suggestions(text: str) -> list[Suggestion]:
    """Up to SUGGESTIONS places for what the resident has typed so far."""
    key = normalise_address(text)
    if len(key) < MIN_CHARS:
        return []
    # The key holds the typed words, lower-cased and abbreviated as stored keys are; the
    # trigram index on address_key serves the containment test.
    places = Location.objects.filter(address_key__contains=key)
    if not publication().public:
        # An address learned from reports (their agreement, or staff placing a report's
        # address) says that someone reported there: where the tenant does not publish its
        # requests that is residents' data (docs/security.md), so only its own records.
        places = places.filter(source=Location.Source.IMPORT)
    known: list[Suggestion] = [
        {"address": address, "latitude": lat, "longitude": lon, "source": "known"}
        for address, lat, lon in places.order_by("address_key").values_list(
            "address", "latitude", "longitude"
        )[:SUGGESTIONS]
    ]
    if len(known) >= SUGGESTIONS or not settings.GEOCODER_URL:
        return known
    seen = {s["address"].lower() for s in known}
    found = [s for s in geocoder_search(text) if s["address"].lower() not in seen]
    return (known + found)[:SUGGESTIONS]


def geocoder_search(text: str) -> list[Suggestion]:
    """The configured geocoder's places for `text` inside the tenant's areas, cached per
    tenant; [] when none is configured or it fails or is slow."""
    base = settings.GEOCODER_URL
    if not base:
        return []
    cache_key = "cp:{}:geocoder:{}".format(
        current_schema(), salted_hmac("civicpulse.geocoder", text.strip().lower()).hexdigest()
    )
    cached = _cache_get(cache_key)
    if cached is not None:
        return cached
    query = urllib.parse.urlencode({"q": text, "format": "jsonv2", "limit": SUGGESTIONS, "addressdetails": 0})
    request = urllib.request.Request(
        f"{base}{'&' if '?' in base else '?'}{query}",
        headers={"User-Agent": "CivicPulse address search", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.GEOCODER_TIMEOUT) as response:
            places = json.loads(response.read(1_000_000))
        results = [
            Suggestion(
                address=str(place["display_name"])[:500],
                latitude=float(place["lat"]),
                longitude=float(place["lon"]),
                source="geocoder",
            )
            for place in places
            if isinstance(place, dict)
        ]
    except Exception as exc:  # a geocoder down, slow or answering nonsense: no suggestions
        logger.warning("geocoder search failed", extra={"error": repr(exc)})
        return []
    areas = tenant_areas_bounded()  # once for every place the geocoder answered
    results = [
        r
        for r in results
        if -90 <= r["latitude"] <= 90
        and -180 <= r["longitude"] <= 180
        and point_in_tenant_areas(r["latitude"], r["longitude"], areas)
    ]
    try:
        cache.set(cache_key, results, GEOCODER_CACHE_S)
    except Exception as exc:  # Redis down: answered all the same, just not remembered
        logger.warning("geocoder cache unavailable", extra={"error": repr(exc)})
    return results


def _cache_get(key: str) -> list[Suggestion] | None:
    try:
        return cache.get(key)
    except Exception as exc:  # Redis down: ask the geocoder instead
        logger.warning("geocoder cache unavailable", extra={"error": repr(exc)})
        return None
