"""Street maps: what every app's map shares. The tile URL template a map may use, and the
viewport (bbox) a marker request names, read strictly so a bad request is a 400, never a
query over the whole table."""

import math
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

# Placeholders Leaflet fills in a tile URL template; {s} (subdomains) and {r} (retina) are optional.
TILE_PLACEHOLDERS = ("{z}", "{x}", "{y}")


def validate_tile_url(value: str) -> None:
    """An http(s) URL template with {z}, {x} and {y} (empty: none)."""
    if not value:
        return
    parts = urlsplit(value.replace("{", "").replace("}", ""))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("Give an http or https address.")
    missing = [p for p in TILE_PLACEHOLDERS if p not in value]
    if missing:
        raise ValidationError(f"The template needs {', '.join(missing)} (like …/{{z}}/{{x}}/{{y}}.png).")


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """`west,south,east,north` in degrees, as Leaflet's LatLngBounds.toBBoxString() writes
    it; raises ValueError on anything else. A map scrolled past the 180th meridian asks
    for longitudes beyond it: they are clamped (markers there are not drawn twice)."""
    parts = value.split(",")
    if len(parts) != 4:
        raise ValueError("bbox is west,south,east,north")
    west, south, east, north = (float(p) for p in parts)
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise ValueError("bbox holds numbers")
    west, east = max(west, -180.0), min(east, 180.0)
    south, north = max(south, -90.0), min(north, 90.0)
    if west > east or south > north:
        raise ValueError("bbox is west,south,east,north with west <= east and south <= north")
    return west, south, east, north
