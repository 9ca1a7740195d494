"""The demo tenants `make run` seeds: three kinds of place, each with areas and staff."""

from typing import NamedTuple

from django.conf import settings
from django.core.management.base import CommandError

DEMO_PASSWORD = "civicpulse-demo"
OPERATOR_USERNAME = "operator"
STAFF_USERNAME = "staff"
# The demo analyst (property search, their reports, their account; never the console),
# on the demo tenants that allow analyst accounts.
ANALYST_USERNAME = "analyst"
ANALYST_TENANTS = ("springfield",)


def demo_seeding_refuse_in_production() -> None:
    """The demo creates superusers with a published password (DEMO_PASSWORD) and invented
    reports: never on an installation that serves the public (DEMO_SEEDING_ALLOWED is off
    in the production settings)."""
    if not settings.DEMO_SEEDING_ALLOWED:
        raise CommandError(
            "Refusing to seed demo data under production settings: it creates superusers with a "
            "published password. Seed a development installation instead."
        )


class DemoTenant(NamedTuple):
    slug: str
    name: str
    kind: str
    timezone: str
    center: tuple[float, float]  # latitude, longitude
    areas: tuple[str, ...]  # a grid of areas around the centre when it has a boundary
    grid: bool


DEMO_TENANTS = (
    DemoTenant(
        "springfield",
        "City of Springfield",
        "city",
        "America/Chicago",
        (39.7990, -89.6440),
        ("Northwest", "Northeast", "Southwest", "Southeast"),
        grid=True,
    ),
    DemoTenant(
        "northfield-campus",
        "Northfield Campus",
        "campus",
        "America/New_York",
        (44.4620, -93.1530),
        ("North campus", "South campus"),
        grid=True,
    ),
    DemoTenant(
        "harbor-hotel",
        "Harbor Hotel",
        "hotel",
        "Europe/London",
        (50.8960, -1.4040),
        ("Lobby and reception", "Guest floors", "Restaurant and bar", "Pool and spa"),
        grid=False,
    ),
)


def grid_boundaries(center: tuple[float, float], count: int, span_deg: float = 0.04) -> list[dict]:
    """Split a square around the centre into `count` vertical strips (2 to 4 areas), as
    GeoJSON polygons. Enough to place reports in an area; real tenants draw their own."""
    lat, lon = center
    half = span_deg / 2
    if count == 4:
        cells = [(0, 1), (1, 1), (0, 0), (1, 0)]  # NW, NE, SW, SE
        cols, rows = 2, 2
    else:
        cells = [(0, i) for i in reversed(range(count))]
        cols, rows = 1, count
    polygons = []
    for col, row in cells:
        west = lon - half + col * span_deg / cols
        east = west + span_deg / cols
        south = lat - half + row * span_deg / rows
        north = south + span_deg / rows
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        polygons.append({"type": "Polygon", "coordinates": [ring]})
    return polygons


# How many reports each demo tenant gets, spread over the last 90 days.
REPORTS_PER_KIND = {"city": 400, "campus": 250, "hotel": 200}
HISTORY_DAYS = 90
