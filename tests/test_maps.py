"""Street maps: the tenant's tile settings, the address suggestions of the report form
(its own places and an operator's geocoder, tested against a local fake), the point that
must fall inside the tenant's areas, and the staff map's bounded markers per viewport."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError

from civicpulse.core.maps import parse_bbox, validate_tile_url
from issues.models import Issue, IssueStatus, MapSettings
from issues.selectors import map_tiles
from issues.services.taxonomy import area_upsert
from reports.models import Location, Report
from tests.support.factories import CategoryFactory, IssueFactory

PASSWORD = "pw-maps-123456"
RING = [[-89.7, 39.7], [-89.6, 39.7], [-89.6, 39.9], [-89.7, 39.9], [-89.7, 39.7]]


@pytest.fixture(autouse=True)
def fresh_counts():
    """No earlier request counted against the test client, no geocoder answer cached."""
    from civicpulse.core.redis_client import redis_client

    client = redis_client()
    for pattern in ("cp:*:addresses:*", "cp:*:form-rate:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)
    cache.clear()


def _area() -> None:
    area_upsert(code="north", name="North", boundary={"type": "Polygon", "coordinates": [RING]})


def _place(address: str, lat: float, lon: float) -> Location:
    from reports.addresses import standardise_address

    return Location.objects.create(
        address=address, address_key=standardise_address(address).key, latitude=lat, longitude=lon
    )


# --- tile settings -------------------------------------------------------------------


def test_tiles_come_from_the_operator_unless_the_tenant_sets_its_own(tenant_a, settings) -> None:
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = "© Example tiles"
    assert map_tiles() == {"url": settings.MAP_TILE_URL, "attribution": "© Example tiles"}
    MapSettings.objects.create(tile_url="https://own.example.org/{z}/{x}/{y}.png")
    # Another provider's tiles never carry the operator's attribution.
    assert map_tiles() == {"url": "https://own.example.org/{z}/{x}/{y}.png", "attribution": ""}
    MapSettings.objects.filter(pk=1).update(tile_attribution="© Own tiles")
    assert map_tiles()["attribution"] == "© Own tiles"
    MapSettings.objects.filter(pk=1).update(tiles_off=True)
    assert map_tiles() == {"url": "", "attribution": ""}


def test_a_tile_url_template_is_checked() -> None:
    validate_tile_url("")
    validate_tile_url("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    for bad in ("https://tiles.example.org/{z}/{x}.png", "javascript:alert(1)//{z}{x}{y}", "/{z}/{x}/{y}"):
        with pytest.raises(ValidationError):
            validate_tile_url(bad)


def test_the_console_page_keeps_one_row_and_shows_the_platform_default(client_a, tenant_a, settings) -> None:
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    client_a.force_login(get_user_model().objects.create_superuser("maps", "m@example.org", PASSWORD))
    response = client_a.get("/admin/issues/mapsettings/")
    assert response.status_code == 302 and response["Location"].endswith(
        "/admin/issues/mapsettings/1/change/"
    )
    page = client_a.get(response["Location"]).content.decode()
    assert "https://tiles.example.org/{z}/{x}/{y}.png" in page
    refused = client_a.post(response["Location"], {"tile_url": "https://x.example.org/tiles.png"})
    assert refused.status_code == 200 and MapSettings.objects.get().tile_url == ""
    client_a.post(response["Location"], {"tile_url": "https://x.example.org/{z}/{x}/{y}.png"})
    assert MapSettings.objects.get().tile_url == "https://x.example.org/{z}/{x}/{y}.png"


def test_the_form_carries_the_tiles_or_only_the_outline_map(client_a, tenant_a, settings) -> None:
    _area()
    settings.MAP_TILE_URL = ""
    page = client_a.get("/report/").content.decode()
    assert 'data-tile-url=""' in page and "<title>North</title>" in page
    assert "/static/vendor/leaflet/leaflet.js" in page and "/static/civicpulse/map.js" in page
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    page = client_a.get("/report/").content.decode()
    assert 'data-tile-url="https://tiles.example.org/{z}/{x}/{y}.png"' in page
    # The outline map stays in the page, as the fallback; the areas travel for the client check.
    assert "<title>North</title>" in page and '"coordinates": [[[-89.7, 39.7]' in page


def test_the_form_reads_its_areas_once_and_its_categories_without_a_cursor(client_a, tenant_a) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from issues.models import Area

    _area()
    area_upsert(code="old", name="Old Town", boundary={"type": "Polygon", "coordinates": [RING]})
    Area.objects.filter(code="old").update(active=False)
    CategoryFactory(name="Streetlight out")
    with CaptureQueriesContext(connection) as queries:
        page = client_a.get("/report/").content.decode()
    statements = [q["sql"] for q in queries.captured_queries]
    assert sum('FROM "issues_area"' in sql for sql in statements) == 1
    # The category list in one SELECT, not a server-side cursor's DECLARE, FETCH and CLOSE.
    assert not any(sql.lstrip().upper().startswith("DECLARE") for sql in statements)
    assert "Streetlight out" in page
    # Both areas are drawn on the outline map; only the active one is sent for the check
    # that a point is inside an area.
    assert "<title>North</title>" in page and "<title>Old Town</title>" in page
    assert page.count('"coordinates": [[[-89.7, 39.7]') == 1


# --- the point inside the tenant's areas ---------------------------------------------


def test_a_point_outside_the_areas_is_refused_with_a_clear_message(client_a, tenant_a) -> None:
    _area()
    outside = client_a.post("/report/", {"description": "Pothole", "latitude": "40.5", "longitude": "-89.64"})
    assert outside.status_code == 400
    assert "outside the area this place looks after" in outside.content.decode()
    assert not Report.objects.exists()
    inside = client_a.post("/report/", {"description": "Pothole", "latitude": "39.8", "longitude": "-89.64"})
    assert inside.status_code == 302 and Report.objects.count() == 1


def test_without_areas_any_point_is_taken(client_a, tenant_a) -> None:
    response = client_a.post("/report/", {"description": "Pothole", "latitude": "10", "longitude": "10"})
    assert response.status_code == 302


def test_with_every_area_retired_any_point_is_taken(client_a, tenant_a) -> None:
    from issues.models import Area

    _area()
    Area.objects.update(active=False)
    response = client_a.post(
        "/report/", {"description": "Pothole", "latitude": "40.5", "longitude": "-89.64"}
    )
    assert response.status_code == 302


# --- address suggestions -------------------------------------------------------------


def test_suggestions_come_from_the_tenants_own_places_only(client_a, tenant_a, tenant_b) -> None:
    from django.db import connection

    connection.set_tenant(tenant_b)
    _place("12 Main Street", 39.8, -89.6)
    connection.set_tenant(tenant_a)
    _place("12 Main Street", 39.81, -89.61)
    _place("14 Main Street", 39.82, -89.62)
    _place("9 Elm Road", 39.83, -89.63)
    body = client_a.get("/report/addresses/", {"q": "main st"}).json()
    assert body == {
        "addresses": [
            {"address": "12 Main Street", "latitude": 39.81, "longitude": -89.61, "source": "known"},
            {"address": "14 Main Street", "latitude": 39.82, "longitude": -89.62, "source": "known"},
        ]
    }
    assert client_a.get("/report/addresses/", {"q": "ma"}).json() == {"addresses": []}


def test_suggestions_are_throttled_per_client(client_a, tenant_a, settings) -> None:
    settings.ADDRESS_SUGGEST_RATE_PER_MINUTE = 2
    for _ in range(2):
        assert client_a.get("/report/addresses/", {"q": "main"}).status_code == 200
    refused = client_a.get("/report/addresses/", {"q": "main"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


class FakeGeocoder:
    """A Nominatim-compatible /search on this machine: answers its places, records the
    queries, and can be told to be slow."""

    def __init__(self, places: list[dict]) -> None:
        self.places, self.queries, self.delay = places, [], 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                fake.queries.append({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})
                time.sleep(fake.delay)
                body = json.dumps(fake.places).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the slow test's caller gave up waiting, as it should

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/search"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def geocoder(settings) -> Iterator[FakeGeocoder]:
    fake = FakeGeocoder(
        [
            {"display_name": "1 Elm Road, Springfield", "lat": "39.85", "lon": "-89.65"},
            {"display_name": "1 Elm Road, Far Away", "lat": "45.0", "lon": "-100.0"},
        ]
    )
    settings.GEOCODER_URL = fake.url
    settings.GEOCODER_TIMEOUT = 0.5
    yield fake
    fake.stop()


def test_the_geocoder_is_off_by_default(client_a, tenant_a, settings) -> None:
    assert settings.GEOCODER_URL == ""
    assert client_a.get("/report/addresses/", {"q": "elm road"}).json() == {"addresses": []}


def test_the_geocoder_adds_places_inside_the_areas_after_the_known_ones(client_a, tenant_a, geocoder) -> None:
    _area()
    _place("7 Elm Road", 39.8, -89.64)
    body = client_a.get("/report/addresses/", {"q": "elm road"}).json()
    assert body["addresses"] == [
        {"address": "7 Elm Road", "latitude": 39.8, "longitude": -89.64, "source": "known"},
        {"address": "1 Elm Road, Springfield", "latitude": 39.85, "longitude": -89.65, "source": "geocoder"},
    ]
    assert geocoder.queries == [{"q": "elm road", "format": "jsonv2", "limit": "8", "addressdetails": "0"}]
    client_a.get("/report/addresses/", {"q": "elm road"})
    assert len(geocoder.queries) == 1  # cached


def test_a_slow_geocoder_gives_the_known_places_in_time(client_a, tenant_a, geocoder) -> None:
    _place("7 Elm Road", 39.8, -89.64)
    geocoder.delay = 2.0
    started = time.monotonic()
    body = client_a.get("/report/addresses/", {"q": "elm road"}).json()
    assert time.monotonic() - started < 1.9
    assert [a["source"] for a in body["addresses"]] == ["known"]


# --- the staff map's markers ----------------------------------------------------------


@pytest.fixture
def staff_a(client_a, tenant_a):
    client_a.force_login(get_user_model().objects.create_superuser("mapstaff", "s@example.org", PASSWORD))
    return client_a


MARKERS = "/admin/analytics/scorerun/dashboard/markers/"
BBOX = "-89.7,39.7,-89.6,39.9"


def test_markers_need_a_staff_login(client_a, tenant_a) -> None:
    response = client_a.get(MARKERS, {"bbox": BBOX})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_markers_are_the_open_issues_in_the_viewport_with_staff_fields(staff_a, tenant_a) -> None:
    roads = CategoryFactory(code="roads_map", name="Roads")
    inside = IssueFactory(latitude=39.8, longitude=-89.65, category=roads)
    IssueFactory(latitude=39.8, longitude=-89.65, status=IssueStatus.RESOLVED)
    IssueFactory(latitude=41.0, longitude=-89.65)  # out of view
    IssueFactory(latitude=None, longitude=None)
    body = staff_a.get(MARKERS, {"bbox": BBOX}).json()
    assert body["markers"] == [
        {
            "id": inside.pk,
            "latitude": 39.8,
            "longitude": -89.65,
            "status": "open",
            "status_label": "Open",
            "category": "Roads",
        }
    ]
    assert body["cells"] == [] and body["issue_url"] == "/admin/issues/issue/{id}/change/"
    other = CategoryFactory(code="lights_map", name="Lights")
    assert staff_a.get(MARKERS, {"bbox": BBOX, "category": other.pk}).json()["markers"] == []


def test_markers_beyond_the_limit_are_counted_by_cell(staff_a, tenant_a, settings) -> None:
    settings.MAP_MARKERS_LIMIT = 5
    Issue.objects.bulk_create(
        IssueFactory.build(latitude=39.71 + (n % 4) * 0.05, longitude=-89.69 + (n // 4) * 0.02)
        for n in range(20)
    )
    body = staff_a.get(MARKERS, {"bbox": BBOX}).json()
    assert body["markers"] == []
    assert sum(cell["count"] for cell in body["cells"]) == 20
    assert 5 < len(body["cells"]) <= 20
    assert all(39.7 <= c["latitude"] <= 39.9 and -89.7 <= c["longitude"] <= -89.6 for c in body["cells"])
    # Zoomed in: few enough for markers again.
    assert len(staff_a.get(MARKERS, {"bbox": "-89.7,39.7,-89.68,39.9"}).json()["markers"]) == 4


def test_markers_never_cross_tenants(staff_a, tenant_a, tenant_b) -> None:
    from django.db import connection

    connection.set_tenant(tenant_b)
    IssueFactory(latitude=39.8, longitude=-89.65)
    connection.set_tenant(tenant_a)
    assert staff_a.get(MARKERS, {"bbox": BBOX}).json()["markers"] == []


@pytest.mark.parametrize("bbox", ["", "1,2,3", "a,b,c,d", "10,0,5,1", "nan,0,1,1", "-89.7,39.9,-89.6,39.7"])
def test_a_bad_viewport_is_a_400(staff_a, tenant_a, bbox) -> None:
    assert staff_a.get(MARKERS, {"bbox": bbox}).status_code == 400


def test_a_viewport_past_the_antimeridian_is_clamped() -> None:
    assert parse_bbox("-200,-95,190,100") == (-180.0, -90.0, 180.0, 90.0)


def test_the_issue_page_maps_its_reports_on_tiles_over_the_outline(staff_a, tenant_a, settings) -> None:
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    issue = IssueFactory(latitude=39.8, longitude=-89.64)
    Report.objects.create(
        description="Bench", latitude=39.8001, longitude=-89.6401, issue=issue, tracking_id="ABCDEFGH23"
    )
    page = staff_a.get(f"/admin/issues/issue/{issue.pk}/change/").content.decode()
    assert (
        'data-civic-map="points"' in page
        and 'data-tile-url="https://tiles.example.org/{z}/{x}/{y}.png"' in page
    )
    assert '"title": "ABCDEFGH23"' in page and 'id="issue-map-svg"' in page and "<circle" in page


def test_a_geocoder_answering_nonsense_gives_no_suggestions(client_a, tenant_a, geocoder) -> None:
    geocoder.places = [{"display_name": "No point here"}]
    assert client_a.get("/report/addresses/", {"q": "elm road"}).json() == {"addresses": []}


# --- where the maps open ---------------------------------------------------------------


def _data_bounds(page: str, element_id: str) -> dict[str, str]:
    import re

    tag = re.search(rf'<div id="{element_id}"[^>]*>', page)
    assert tag, element_id
    return dict(re.findall(r'data-(west|east|south|north)="([^"]*)"', tag.group(0)))


def test_without_areas_the_map_opens_around_the_latest_issues_coarsely(client_a, tenant_a, staff_a) -> None:
    # No area and no issue: nothing to centre on (the world, until a place is given).
    assert _data_bounds(client_a.get("/report/").content.decode(), "tile-map") == {}
    IssueFactory(latitude=39.8012, longitude=-89.6437)
    IssueFactory(latitude=39.8154, longitude=-89.6301)
    IssueFactory(latitude=None, longitude=None)
    bounds = _data_bounds(client_a.get("/report/").content.decode(), "tile-map")
    # Widened outward to whole hundredths, and one more: no issue's own place is given away.
    assert bounds == {"west": "-89.66", "east": "-89.62", "south": "39.79", "north": "39.83"}
    dashboard = staff_a.get("/admin/analytics/scorerun/dashboard/").content.decode()
    assert _data_bounds(dashboard, "staff-map") == bounds


def test_one_issue_still_gives_the_map_a_kilometre_around_it(client_a, tenant_a) -> None:
    IssueFactory(latitude=39.8, longitude=-89.0)
    bounds = {
        k: float(v) for k, v in _data_bounds(client_a.get("/report/").content.decode(), "tile-map").items()
    }
    assert bounds["south"] < 39.8 < bounds["north"] and bounds["west"] < -89.0 < bounds["east"]
    assert bounds["north"] - bounds["south"] >= 0.01 and bounds["east"] - bounds["west"] >= 0.01


def test_the_maps_numbers_are_never_written_the_spanish_way(client_a, tenant_a) -> None:
    """Spanish writes 39,75: the script reading the map's edges would get NaN and draw
    the pin in a corner."""
    _area()
    page = client_a.get("/report/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="es">' in page
    expected = {"west": "-89.7", "east": "-89.6", "south": "39.7", "north": "39.9"}
    assert _data_bounds(page, "tile-map") == expected and _data_bounds(page, "map") == expected


def test_the_form_says_how_to_place_the_pin_with_a_keyboard(client_a, tenant_a) -> None:
    page = client_a.get("/report/").content.decode()
    assert 'aria-describedby="map-keys"' in page and 'id="map-keys"' in page
    assert "press Enter to put the pin at its centre" in page


def test_an_address_alone_is_enough_without_the_map(client_a, tenant_a) -> None:
    """The map is never the only way: with areas on the map, a typed address and no
    point at all still sends the report (the pipeline places it later, if it can)."""
    _area()
    response = client_a.post("/report/", {"description": "Fallen branch", "address": "12 Main Street"})
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.address, report.latitude, report.longitude) == ("12 Main Street", None, None)
