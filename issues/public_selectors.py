"""Reads of what anyone may see of a tenant's issues, for the tenants that publish them
(the caller decides whether the tenant does, and whether its points are rounded):
the open issues near a point ("already reported near here?"), the public list with its
filters, and the markers of the public map. Public fields only: no text of a report,
no reporter, no assignee, no staff-only note.

Where points are rounded (every kind of tenant but a city, docs/security.md) the
distances are measured from the rounded points too, so a client measuring from several
places learns nothing finer than the rounded point."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, FloatField, Func, Q, QuerySet

from civicpulse.core.geo import PUBLIC_POINT_DECIMALS, PUBLIC_ROUNDING_SLACK_M, search_box
from issues.models import OPEN_STATUSES, Issue
from issues.statuses import OPEN_STATUSES_SQL

# "Already reported near here?": open issues this close to the resident's point.
NEARBY_RADIUS_M = 200
# The most issues the nearby list answers with, nearest first.
NEARBY_LIMIT = 20
# The public list shows open issues and those opened this recently, whatever their status.
RECENT_DAYS = 90
# The most markers one answer of the public map carries (newest first past it).
MARKERS_LIMIT = 1000


@dataclass(frozen=True)
class NearbyIssue:
    id: int
    title: str
    status: str
    report_count: int
    category_code: str | None
    category_name: str | None
    latitude: float
    longitude: float
    distance_m: float


# The GiST index on open issues' points (issues 0013) narrows to the box; the exact
# distance is then measured from the point as published (rounded or not).
_NEARBY = f"""
    WITH here AS (SELECT public.ll_to_earth(%(lat)s, %(lon)s) AS point),
    shown AS (
        SELECT i.id, i.title, i.status, i.report_count, i.category_id,
               CASE WHEN %(rounded)s THEN round(i.latitude::numeric, %(places)s)::float8 ELSE i.latitude END AS lat,
               CASE WHEN %(rounded)s THEN round(i.longitude::numeric, %(places)s)::float8 ELSE i.longitude END AS lon
        FROM issues_issue i
        WHERE i.status IN {OPEN_STATUSES_SQL} AND i.latitude IS NOT NULL
          AND point(i.longitude, i.latitude) <@ box(point(%(west)s, %(south)s), point(%(east)s, %(north)s))
    )
    SELECT s.id, s.title, s.status, s.report_count, c.code, c.name, s.lat, s.lon,
           public.earth_distance(here.point, public.ll_to_earth(s.lat, s.lon)) AS distance_m
    FROM shown s CROSS JOIN here
    LEFT JOIN issues_category c ON c.id = s.category_id
    WHERE public.earth_distance(here.point, public.ll_to_earth(s.lat, s.lon)) <= %(radius)s
    ORDER BY distance_m, s.id
    LIMIT %(limit)s
"""


def issues_nearby(
    *,
    latitude: float,
    longitude: float,
    rounded: bool,
    radius_m: float = NEARBY_RADIUS_M,
    limit: int = NEARBY_LIMIT,
) -> list[NearbyIssue]:
    """Open issues within `radius_m` of the point, nearest first, at most `limit`."""
    slack = PUBLIC_ROUNDING_SLACK_M if rounded else 0.0
    west, south, east, north = search_box(latitude, longitude, radius_m + slack)
    params = {
        "lat": latitude,
        "lon": longitude,
        "rounded": rounded,
        "places": PUBLIC_POINT_DECIMALS,
        "west": west,
        "south": south,
        "east": east,
        "north": north,
        "radius": float(radius_m),
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_NEARBY, params)
        return [NearbyIssue(*row) for row in cursor.fetchall()]


@dataclass(frozen=True)
class PublicFilters:
    """What the public list and map are narrowed to (empty: no narrowing)."""

    category_code: str = ""
    status: str = ""
    area_code: str = ""


def issues_public(filters: PublicFilters, *, now: datetime) -> QuerySet[Issue]:
    """The issues the public list shows, newest first: by default the open ones and those
    opened in the last RECENT_DAYS; a status filter shows that status, however old."""
    issues = Issue.objects.select_related("category", "area").only(
        "id",
        "title",
        "summary",
        "status",
        "report_count",
        "created_at",
        "latitude",
        "longitude",
        "category__code",
        "category__name",
        "area__code",
        "area__name",
    )
    if filters.status:
        issues = issues.filter(status=filters.status)
    else:
        issues = issues.filter(
            Q(status__in=OPEN_STATUSES) | Q(created_at__gte=now - timedelta(days=RECENT_DAYS))
        )
    if filters.category_code:
        issues = issues.filter(category__code=filters.category_code)
    if filters.area_code:
        issues = issues.filter(area__code=filters.area_code)
    return issues.order_by("-created_at", "-id")


@dataclass(frozen=True)
class Marker:
    id: int
    title: str
    status: str
    category_name: str | None
    latitude: float
    longitude: float


def issue_markers(
    filters: PublicFilters,
    *,
    now: datetime,
    rounded: bool,
    box: tuple[float, float, float, float] | None,
    limit: int = MARKERS_LIMIT,
) -> tuple[list[Marker], bool]:
    """The located issues of the public list inside `box` (west, south, east, north; None:
    everywhere), newest first, at most `limit`; and whether more were left out.

    Where points are rounded, the box is compared with the rounded points, as the nearby
    lookup measures from them: compared with the exact points, ever smaller boxes would
    find each point to the centimetre whatever the answer shows."""
    issues = (
        issues_public(filters, now=now)
        .exclude(latitude=None)
        .annotate(shown_lat=_published("latitude", rounded), shown_lon=_published("longitude", rounded))
    )
    if box is not None:
        west, south, east, north = box
        issues = issues.filter(shown_lat__gte=south, shown_lat__lte=north)
        # A box across the 180th meridian has its west edge east of its east edge.
        issues = (
            issues.filter(shown_lon__gte=west, shown_lon__lte=east)
            if west <= east
            else issues.filter(Q(shown_lon__gte=west) | Q(shown_lon__lte=east))
        )
    rows = list(
        issues.values_list("id", "title", "status", "category__name", "shown_lat", "shown_lon")[: limit + 1]
    )
    markers = [
        Marker(pk, title, status, category_name, lat, lon)
        for pk, title, status, category_name, lat, lon in rows[:limit]
        if lat is not None and lon is not None  # excluded above; the types cannot say so
    ]
    return markers, len(rows) > limit


def _published(field: str, rounded: bool) -> F | Func:
    """A coordinate as the public sees it: rounded as `_NEARBY` rounds it, or exact."""
    if not rounded:
        return F(field)
    return Func(
        F(field),
        template=f"round(%(expressions)s::numeric, {PUBLIC_POINT_DECIMALS})::float8",
        output_field=FloatField(),
    )
