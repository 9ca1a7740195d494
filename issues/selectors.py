"""Reads on issues and the taxonomy."""

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import QuerySet

from civicpulse.core.geo import geojson_polygons, point_in_geojson
from civicpulse.core.kept import PerTenant
from issues.match_score import Thresholds
from issues.models import (
    Area,
    Category,
    Department,
    GroupingPolicy,
    Issue,
    IssueNote,
    IssueStatus,
    MapSettings,
)
from issues.statuses import OPEN_STATUSES_SQL


def area_for_point(latitude: float, longitude: float, areas: Iterable[Area] | None = None) -> Area | None:
    """The first active area (by name) whose boundary holds the point: a retired area
    keeps its issues but is given no new ones. `areas`: those active areas, read already
    (a pipeline batch takes them from areas_active_kept)."""
    if areas is None:
        areas = _areas_active()
    for area in areas:
        if area.boundary and point_in_geojson(latitude, longitude, area.boundary):
            return area
    return None


def category_compatible_ids(category: Category | None) -> list[int] | None:
    """Categories whose issues a report of `category` may join: itself and its related
    ones. None means any (an uncategorised report)."""
    if category is None:
        return None
    return [category.pk, *category.related.values_list("pk", flat=True)]


def category_related_ids() -> dict[int, list[int]]:
    """Every category's related ones (as `category_compatible_ids` lists them after the
    category itself), in one read."""
    related: dict[int, list[int]] = {}
    for source, target in Category.related.through.objects.values_list("from_category_id", "to_category_id"):
        related.setdefault(source, []).append(target)
    return related


def grouping_policy_get() -> GroupingPolicy:
    """The tenant's grouping defaults; the built-in ones (unsaved) if the row is missing."""
    return GroupingPolicy.objects.filter(pk=1).first() or GroupingPolicy()


def _areas_active() -> tuple[Area, ...]:
    return tuple(Area.objects.filter(active=True).exclude(boundary=None).order_by("name", "pk"))


def _department_ids_active() -> frozenset[int]:
    return frozenset(Department.objects.filter(active=True).values_list("pk", flat=True))


def _related_read_only() -> Mapping[int, tuple[int, ...]]:
    return MappingProxyType({source: tuple(targets) for source, targets in category_related_ids().items()})


def _categories_by_code() -> Mapping[str, Category]:
    return MappingProxyType({category.code: category for category in Category.objects.order_by("code")})


# The tenant's set-up as the pipeline's batches read it: kept by each process for
# SETUP_CACHE_SECONDS (civicpulse.core.kept), so a batch of a report or two at a steady rate
# does not pay a query for each. Shared between threads: read, never changed.

# Every category (retired ones too), by code, in code order.
categories_kept = PerTenant(_categories_by_code, seconds_setting="SETUP_CACHE_SECONDS")
grouping_policy_kept = PerTenant(grouping_policy_get, seconds_setting="SETUP_CACHE_SECONDS")
category_related_kept = PerTenant(_related_read_only, seconds_setting="SETUP_CACHE_SECONDS")
# The active areas with a boundary, in the order area_for_point tries them.
areas_active_kept = PerTenant(_areas_active, seconds_setting="SETUP_CACHE_SECONDS")
department_ids_active_kept = PerTenant(_department_ids_active, seconds_setting="SETUP_CACHE_SECONDS")


def setup_forget() -> None:
    """Read the categories, grouping policy, related categories, areas and departments of
    every tenant afresh at its next batch, in this process (the language model's endpoint
    and learned model are llm's, kept apart)."""
    for kept in (
        categories_kept,
        grouping_policy_kept,
        category_related_kept,
        areas_active_kept,
        department_ids_active_kept,
    ):
        kept.forget()


# Category field -> policy field, for every grouping value a category may leave empty.
_THRESHOLD_FIELDS = {
    "group_radius_m": "radius_m",
    "group_window_hours": "window_hours",
    "group_min_similarity": "min_similarity",
    "group_join_score": "join_score",
    "group_borderline_low": "borderline_low",
    "group_borderline_high": "borderline_high",
}


def grouping_thresholds(category: Category | None, policy: GroupingPolicy | None = None) -> Thresholds:
    """The values in force for reports of `category` (None: uncategorised, the tenant's
    values). The policy (`policy`, when the caller has read it) is read only when the
    category leaves something empty."""
    own = {name: getattr(category, field) for field, name in _THRESHOLD_FIELDS.items()} if category else {}
    if policy is None and (category is None or None in own.values()):
        policy = grouping_policy_get()
    values = {
        name: own[name] if own.get(name) is not None else getattr(policy, name)
        for name in _THRESHOLD_FIELDS.values()
    }
    return Thresholds(**values, from_category=tuple(name for name, value in own.items() if value is not None))


def _has_area(ring: list) -> bool:
    """Whether the ring encloses anything: both spans non-zero and a shoelace area above
    rounding noise (1e-12 square degrees is about a hundredth of a square metre)."""
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    if not ring or max(lons) == min(lons) or max(lats) == min(lats):
        return False
    twice_area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
    return abs(twice_area) > 2e-12


def area_map(width: int = 600, areas: Iterable[Area] | None = None) -> dict | None:
    """The tenant's area boundaries (or those of `areas`, read already) as SVG paths, for a
    map drawn without tiles: the resident clicks where the problem is and the page turns
    the click back into a point with `bounds`. None when no area has a boundary."""
    polygons = []
    for area in Area.objects.exclude(boundary=None).order_by("name") if areas is None else areas:
        if area.boundary is not None:  # always, by the filter; the nullable field's type cannot say so
            # A ring without area (every corner on one line) cannot be clicked into, and
            # alone it would give the map no width or no height to scale by.
            rings = [polygon[0] for polygon in geojson_polygons(area.boundary) if _has_area(polygon[0])]
            if rings:
                polygons.append((area.name, rings))
    points = [p for _, rings in polygons for ring in rings for p in ring]
    if not points:
        return None
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    # Equirectangular, squeezed by the cosine of the latitude so shapes look right.
    aspect = (north - south) / max((east - west) * math.cos(math.radians((north + south) / 2)), 1e-9)
    height = max(1, round(width * aspect))

    def xy(lon: float, lat: float) -> str:
        return f"{(lon - west) / (east - west) * width:.1f},{(north - lat) / (north - south) * height:.1f}"

    return {
        "width": width,
        "height": height,
        "bounds": {"west": west, "east": east, "south": south, "north": north},
        "areas": [
            {
                "name": name,
                "path": " ".join("M" + " L".join(xy(*p[:2]) for p in ring) + " Z" for ring in rings),
                # The label sits at the mean of the outer ring's corners: enough for the
                # simple shapes areas are drawn as.
                "label": xy(
                    sum(p[0] for p in rings[0][:-1]) / max(len(rings[0]) - 1, 1),
                    sum(p[1] for p in rings[0][:-1]) / max(len(rings[0]) - 1, 1),
                ).split(","),
            }
            for name, rings in polygons
        ],
    }


def recent_issue_extent(limit: int = 200) -> dict[str, float] | None:
    """Where a map opens for a tenant without area boundaries: the box around its latest
    `limit` issues (read from the top of the newest-first index), widened outward to
    whole hundredths of a degree and one more (about a kilometre), so the page shows the
    tenant's streets without giving away any issue's exact place. None when it has none."""
    rows = (
        Issue.objects.exclude(latitude=None)
        .exclude(longitude=None)
        .order_by("-created_at", "-id")
        .values_list("latitude", "longitude")[:limit]
    )
    # Never None by the filters; the nullable fields' types cannot say so.
    points = [(lat, lon) for lat, lon in rows if lat is not None and lon is not None]
    if not points:
        return None
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    # In whole hundredths, one more on each side: every issue lies well inside, a single
    # one included.
    south, north = (math.floor(min(lats) * 100) - 1) / 100, (math.ceil(max(lats) * 100) + 1) / 100
    west, east = (math.floor(min(lons) * 100) - 1) / 100, (math.ceil(max(lons) * 100) + 1) / 100
    return {"west": west, "east": east, "south": south, "north": north}


def map_tiles() -> dict[str, str]:
    """The street tiles this tenant's maps use: its own when it set them, else the
    operator's. An empty url means no tiles (the outline map of the areas only)."""
    own = MapSettings.objects.filter(pk=1).first()
    if own is not None and own.tiles_off:
        return {"url": "", "attribution": ""}
    url = (own.tile_url if own else "") or settings.MAP_TILE_URL
    # A tenant's own tiles without their own attribution still credit the operator's only
    # when they are the operator's tiles.
    attribution = (own.tile_attribution if own else "") or (
        settings.MAP_TILE_ATTRIBUTION if url == settings.MAP_TILE_URL else ""
    )
    return {"url": url, "attribution": attribution}


def report_form_areas() -> tuple[dict | None, list[dict]]:
    """The report form's outline map (area_map) and the active areas' boundaries (GeoJSON,
    for its check that a point is inside one), from one read of the areas."""
    areas = list(Area.objects.exclude(boundary=None).order_by("name").only("name", "boundary", "active"))
    return area_map(areas=areas), [
        area.boundary for area in areas if area.active and area.boundary is not None
    ]


# Cells per side of the grid an over-full viewport is counted in: at most GRID**2 cells.
MARKER_GRID = 40

_MARKERS_WHERE = f"""
    FROM issues_issue i
    WHERE i.status IN {OPEN_STATUSES_SQL} AND i.latitude IS NOT NULL
      AND point(i.longitude, i.latitude) <@ box(point(%(west)s, %(south)s), point(%(east)s, %(north)s))
      AND (%(area)s::int IS NULL OR i.area_id = %(area)s) AND (%(category)s::int IS NULL OR i.category_id = %(category)s)
"""


def open_issue_markers(
    *,
    bbox: tuple[float, float, float, float],
    limit: int,
    area_id: int | None = None,
    category_id: int | None = None,
) -> dict[str, list[dict]]:
    """The open issues in a viewport (west, south, east, north) for a map, never more
    than `limit` of them: {"markers": [{id, latitude, longitude, status, status_label,
    category}]}
    when they fit, else {"cells": [{latitude, longitude, count}]}, their counts on a
    MARKER_GRID square grid (each at its issues' mean point). Both queries go through
    the GiST index on open issues' points (migration issues 0013), so a viewport over a
    million issues answers in one aggregate, not a million rows."""
    west, south, east, north = bbox
    params = {
        "west": west,
        "south": south,
        "east": east,
        "north": north,
        "area": area_id,
        "category": category_id,
        "limit": limit + 1,
        "cell_w": max((east - west) / MARKER_GRID, 1e-9),
        "cell_h": max((north - south) / MARKER_GRID, 1e-9),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.id, i.latitude, i.longitude, i.status, c.name "
            + _MARKERS_WHERE.replace(
                "FROM issues_issue i",
                "FROM issues_issue i LEFT JOIN issues_category c ON c.id = i.category_id",
            )
            + " LIMIT %(limit)s",
            params,
        )
        rows = cursor.fetchall()
        if len(rows) <= limit:
            return {
                "markers": [
                    {
                        "id": i,
                        "latitude": lat,
                        "longitude": lon,
                        "status": status,
                        # The popup's word for it (the code is for scripts).
                        "status_label": str(IssueStatus(status).label),
                        "category": category or "",
                    }
                    for i, lat, lon, status, category in rows
                ],
                "cells": [],
            }
        cursor.execute(
            "SELECT count(*), avg(i.latitude), avg(i.longitude)"
            + _MARKERS_WHERE
            + " GROUP BY floor((i.longitude - %(west)s) / %(cell_w)s), floor((i.latitude - %(south)s) / %(cell_h)s)",
            params,
        )
        return {
            "markers": [],
            "cells": [
                {"latitude": round(lat, 6), "longitude": round(lon, 6), "count": count}
                for count, lat, lon in cursor.fetchall()
            ],
        }


def issue_list_for_api() -> QuerySet[Issue]:
    """Issues with what the API shows of them, in one query."""
    return Issue.objects.select_related("category", "area", "department", "assignee")


def issue_notes_visible(*, issue_id: int, internal: bool) -> QuerySet[IssueNote]:
    """An issue's notes, oldest first: public ones only, unless `internal` (staff)."""
    notes = IssueNote.objects.filter(issue_id=issue_id).order_by("created_at", "id")
    return notes if internal else notes.filter(visibility=IssueNote.Visibility.PUBLIC)


def staff_member_by_username(username: str) -> User | None:
    """An active staff account of this tenant, the only kind an issue can be assigned to."""
    return User.objects.filter(username=username, is_active=True, is_staff=True).first()
