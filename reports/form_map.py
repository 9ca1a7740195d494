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

from dataclasses import dataclass

from django.utils.html import json_script
from django.utils.safestring import SafeString

from civicpulse.core.kept import PerTenant
from issues.selectors import map_tiles, recent_issue_extent, report_form_areas


@dataclass(frozen=True)
class FormMap:
    outline: dict | None  # the areas' outline map (issues.selectors.area_map), if any
    # The active areas' boundaries (GeoJSON) for the page's own check, as the page's JSON
    # script: a string, so the collector never walks a ward's thousands of points, and no
    # request can change what the others are served.
    boundaries_script: SafeString
    extent: dict[str, float] | None  # where the street map opens
    tiles: dict[str, str]


def _form_map_read() -> FormMap:
    outline, boundaries = report_form_areas()
    return FormMap(
        outline,
        json_script(boundaries, "map-boundaries"),
        # Without areas, the map opens around the latest issues.
        outline["bounds"] if outline else recent_issue_extent(),
        map_tiles(),
    )


# The current tenant's form map: shared between requests, so read, never changed.
report_form_map = PerTenant(_form_map_read, seconds_setting="FORM_MAP_CACHE_SECONDS")
