"""Street maps and the address search, from the environment (imported by base.py once
.env has been read into it)."""

import environ
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "ADDRESS_SUGGEST_RATE_PER_MINUTE",
    "GEOCODER_TIMEOUT",
    "GEOCODER_URL",
    "MAP_MARKERS_LIMIT",
    "MAP_TILE_ATTRIBUTION",
    "MAP_TILE_URL",
    "PUBLIC_MARKERS_LIMIT",
]

env = environ.Env()

# Street maps (Leaflet, vendored by scripts/vendor_leaflet.sh): the tile URL template and
# the attribution its provider requires. A tenant may use its own tiles or none in its
# console (issues.MapSettings). Empty URL: the outline map of the areas only (offline installs).
MAP_TILE_URL = env.str("MAP_TILE_URL", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env.str("MAP_TILE_ATTRIBUTION", default="© OpenStreetMap contributors")
if MAP_TILE_URL and not all(p in MAP_TILE_URL for p in ("{z}", "{x}", "{y}")):
    raise ImproperlyConfigured("MAP_TILE_URL must hold {z}, {x} and {y}, or be empty.")
# Staff maps: markers one viewport answers with; past it, counts per grid cell.
MAP_MARKERS_LIMIT = env.int("MAP_MARKERS_LIMIT", default=2000)
# The public issues map: markers one answer holds (newest first). Past it the map says so
# and asks again for each viewport as the resident zooms in.
PUBLIC_MARKERS_LIMIT = env.int("PUBLIC_MARKERS_LIMIT", default=1000)
# A Nominatim-compatible search endpoint (…/search) the address box may also ask, from the
# server, with this timeout in seconds. Empty (the default): the tenant's own addresses only.
GEOCODER_URL = env.str("GEOCODER_URL", default="")
GEOCODER_TIMEOUT = env.float("GEOCODER_TIMEOUT", default=2.0)
# Address suggestions one client address may ask for a minute (0: no limit).
ADDRESS_SUGGEST_RATE_PER_MINUTE = env.int("ADDRESS_SUGGEST_RATE_PER_MINUTE", default=60)
