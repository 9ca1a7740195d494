"""What the resident form's map needs, read at most once every FORM_MAP_CACHE_SECONDS per
tenant and web process.

The form page read its areas, the latest issues' extent and the tile settings on every
visit: three of its four queries, for what staff change a few times a year. Each query is
also a wait for the database and then for a CPU, which is what another tenant's pages
spend most of a photo flood on (bench/photo_flood.py: p99 28-32 ms with the reads, 20-25
ms without). The price: a change of areas or tiles reaches the form's map within that
time. Where a point may be dropped is checked afresh when the report is sent
(reports.forms), never from this.
"""

import threading
from dataclasses import dataclass
from time import monotonic

from django.conf import settings
from django.utils.html import json_script
from django.utils.safestring import SafeString

from civicpulse.core.tenancy import current_schema
from issues.selectors import map_tiles, recent_issue_extent, report_form_areas

# Tenants whose map one process keeps at once; past it, the expired maps are dropped, and
# every map if none had expired (each is read again at its tenant's next visit).
KEPT_TENANTS = 1000


@dataclass(frozen=True)
class FormMap:
    outline: dict | None  # the areas' outline map (issues.selectors.area_map), if any
    # The active areas' boundaries (GeoJSON) for the page's own check, as the page's JSON
    # script: a string, so the collector never walks a ward's thousands of points, and no
    # request can change what the others are served.
    boundaries_script: SafeString
    extent: dict[str, float] | None  # where the street map opens
    tiles: dict[str, str]


_kept: dict[str, tuple[FormMap, float]] = {}
_lock = threading.Lock()


def report_form_map() -> FormMap:
    """The current tenant's form map: shared between requests, so read, never changed."""
    ttl = settings.FORM_MAP_CACHE_SECONDS
    schema = current_schema()
    now = monotonic()  # taken before the reads: a change made during them shows in time
    hit = _kept.get(schema)
    if ttl > 0 and hit is not None and hit[1] > now:
        return hit[0]
    outline, boundaries = report_form_areas()
    form_map = FormMap(
        outline,
        json_script(boundaries, "map-boundaries"),
        # Without areas, the map opens around the latest issues.
        outline["bounds"] if outline else recent_issue_extent(),
        map_tiles(),
    )
    if ttl > 0:
        with _lock:
            if schema not in _kept and len(_kept) >= KEPT_TENANTS:
                for expired in [key for key, (_, until) in _kept.items() if until <= now]:
                    del _kept[expired]
                if len(_kept) >= KEPT_TENANTS:
                    _kept.clear()
            _kept[schema] = (form_map, now + ttl)
    return form_map


def report_form_maps_forget() -> None:
    """Read every tenant's map afresh at its next visit."""
    with _lock:
        _kept.clear()
