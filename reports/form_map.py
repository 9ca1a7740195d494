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
import time
from dataclasses import dataclass

from django.conf import settings

from civicpulse.core.tenancy import current_schema
from issues.selectors import map_tiles, recent_issue_extent, report_form_areas

# Tenants whose map one process keeps at once; past it, the kept maps are dropped and read
# again as visited (a map is a few kilobytes; there may be thousands of tenants).
KEPT_TENANTS = 1000


@dataclass(frozen=True)
class FormMap:
    outline: dict | None  # the areas' outline map (issues.selectors.area_map), if any
    boundaries: list[dict]  # the active areas' boundaries (GeoJSON), for the page's own check
    extent: dict[str, float] | None  # where the street map opens
    tiles: dict[str, str]


_kept: dict[str, tuple[FormMap, float]] = {}
_lock = threading.Lock()


def report_form_map() -> FormMap:
    """The current tenant's form map: shared between requests, so read, never changed."""
    ttl = settings.FORM_MAP_CACHE_SECONDS
    schema = current_schema()
    now = time.monotonic()
    hit = _kept.get(schema)
    if ttl > 0 and hit is not None and hit[1] > now:
        return hit[0]
    outline, boundaries = report_form_areas()
    # Without areas, the map opens around the latest issues.
    form_map = FormMap(
        outline, boundaries, outline["bounds"] if outline else recent_issue_extent(), map_tiles()
    )
    if ttl > 0:
        with _lock:
            if len(_kept) >= KEPT_TENANTS:
                _kept.clear()
            _kept[schema] = (form_map, now + ttl)
    return form_map


def report_form_maps_forget() -> None:
    """Read every tenant's map afresh at its next visit."""
    with _lock:
        _kept.clear()
