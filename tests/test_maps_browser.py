"""The street maps in a real headless Chromium, served by real gunicorn (and a real worker)
from committed rows in a city of its own, with tiles from a local tile server (the machine
has no network): the resident drops a pin on the tiles, drags it, picks a suggested
address and sends the report; with no tile URL, or tiles that fail, the outline map takes
over and the form still sends; the staff dashboard's map asks for its markers per
viewport. Screenshots are kept in test-artifacts/maps/."""

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context
from PIL import Image
from psycopg import sql

from issues.models import MapSettings
from issues.services.taxonomy import area_upsert
from reports.addresses import standardise_address
from reports.models import Location, Report
from tenants.models import Tenant
from tests.support.factories import IssueFactory
from tests.support.services import (
    ROOT,
    celery_worker,
    child_database_url,
    committed_tenant,
    headless_chromium,
    wait_for,
    web_server,
)

pytestmark = [pytest.mark.django_db, pytest.mark.worker, pytest.mark.browser, pytest.mark.slow]
SLUG = "map-city"
ARTIFACTS = ROOT / "test-artifacts" / "maps"
PASSWORD = "pw-maps-browser-123456"
RING = [[-89.70, 39.75], [-89.60, 39.75], [-89.60, 39.85], [-89.70, 39.85], [-89.70, 39.75]]


class TileServer:
    """Answers any /{z}/{x}/{y}.png with one light PNG (or 404 when told to fail), and
    counts what it served."""

    def __init__(self) -> None:
        out = io.BytesIO()
        Image.new("RGB", (256, 256), (228, 236, 222)).save(out, format="PNG")
        self.png, self.served, self.fail = out.getvalue(), 0, False
        tiles = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                ok = not tiles.fail and self.path.endswith(".png")
                body = tiles.png if ok else b"no tile"
                tiles.served += ok
                try:
                    self.send_response(200 if ok else 404)
                    self.send_header("Content-Type", "image/png" if ok else "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the page moved on

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tiles() -> Iterator[TileServer]:
    server = TileServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker) -> Iterator[Tenant]:
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Map City", "city") as tenant:
        with tenant_context(tenant):
            area_upsert(code="downtown", name="Downtown", boundary={"type": "Polygon", "coordinates": [RING]})
            Location.objects.create(
                address="12 Main Street",
                address_key=standardise_address("12 Main Street").key,
                latitude=39.81,
                longitude=-89.66,
            )
            for n in range(30):
                IssueFactory(latitude=39.76 + (n % 6) * 0.015, longitude=-89.69 + (n // 6) * 0.02)
            reported = IssueFactory(title="Reported twice", latitude=39.80, longitude=-89.65, report_count=2)
            for n in range(2):
                # Processed already: the first test's worker must not group them anew.
                Report.objects.create(
                    description="Pothole",
                    latitude=39.80 + n * 0.0002,
                    longitude=-89.65,
                    issue=reported,
                    status=Report.Status.PROCESSED,
                )
            get_user_model().objects.create_superuser("mapper", "m@example.org", PASSWORD)
        yield tenant


@pytest.fixture(scope="module")
def chromium():
    with headless_chromium(window="1000,1400", artifacts=ARTIFACTS) as driver:
        yield driver


@pytest.fixture
def browser(chromium):
    """Each test starts signed out, in the default language."""
    chromium.delete_all_cookies()
    return chromium


def _shot(browser, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def _tiles_for(url: str) -> None:
    """The tenant's own tiles (the console's setting; "" leaves the platform's: none in
    tests), committed on a connection of its own, outside the test's transaction, for
    gunicorn to read."""
    table = sql.Identifier(SLUG, MapSettings._meta.db_table)
    statement = sql.SQL(
        "INSERT INTO {} (id, tile_url, tile_attribution, tiles_off) VALUES (1, %s, 'Test tiles', false)"
        " ON CONFLICT (id) DO UPDATE SET tile_url = EXCLUDED.tile_url"
    ).format(table)
    with psycopg.connect(child_database_url(), autocommit=True) as conn:
        conn.execute(statement, [url])


def _point(browser) -> tuple[float, float]:
    from selenium.webdriver.common.by import By

    return (
        float(browser.find_element(By.ID, "id_latitude").get_attribute("value")),
        float(browser.find_element(By.ID, "id_longitude").get_attribute("value")),
    )


def _submitted(browser, city: Tenant) -> Report:
    from selenium.webdriver.common.by import By

    # The report form's own button (the page header has a language form of its own).
    browser.find_element(By.CSS_SELECTOR, "form[enctype] button[type=submit]").click()
    wait_for(lambda: "/track/" in browser.current_url, 20, "the tracking page")
    tracking_id = browser.find_element(By.TAG_NAME, "h1").text.strip()
    with tenant_context(city):
        return Report.objects.get(tracking_id=tracking_id)


def test_a_pin_on_the_tiles_then_an_address_then_send(city, tiles, browser, django_db_blocker) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    with django_db_blocker.unblock(), web_server() as port, celery_worker("io", "threads", "io-maps"):
        _tiles_for(tiles.url)
        browser.get(f"http://{SLUG}.localhost:{port}/report/")
        browser.execute_script(
            "window.points = []; document.addEventListener('civicpulse:point', e => window.points.push(e.detail));"
        )
        wait_for(
            lambda: browser.find_element(By.ID, "tile-map").get_attribute("data-state") == "tiles",
            20,
            "tiles",
        )
        assert tiles.served > 0
        assert not browser.find_element(By.ID, "map").is_displayed()  # the outline map waits as fallback
        assert "Test tiles" in browser.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
        browser.find_element(By.NAME, "description").send_keys("Streetlight out on the corner, very dark")

        # A tap drops the pin where it lands, inside the area.
        ActionChains(browser).move_to_element_with_offset(
            browser.find_element(By.ID, "tile-map"), 10, 10
        ).click().perform()
        wait_for(lambda: browser.find_element(By.ID, "id_latitude").get_attribute("value"), 5, "the pin")
        dropped = _point(browser)
        assert 39.75 <= dropped[0] <= 39.85 and -89.70 <= dropped[1] <= -89.60
        assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-marker-icon")

        # Dragged: the point follows.
        pin = browser.find_element(By.CSS_SELECTOR, ".leaflet-marker-icon")
        ActionChains(browser).click_and_hold(pin).move_by_offset(20, 10).move_by_offset(
            20, 10
        ).release().perform()
        wait_for(lambda: _point(browser) != dropped, 5, "the dragged pin")
        assert len(browser.execute_script("return window.points")) == 2

        # Another panel's nearby issues (the civicpulse:nearby contract) are drawn apart from the pin.
        browser.execute_script(
            "document.dispatchEvent(new CustomEvent('civicpulse:nearby', {detail: {issues: [{id: 1, title: 'Dark corner',"
            " category: 'Lights', status: 'open', report_count: 2, distance_m: 40, latitude: arguments[0],"
            " longitude: arguments[1]}]}}))",
            *dropped,
        )
        assert len(browser.find_elements(By.CSS_SELECTOR, "path.civic-nearby")) == 1
        _shot(browser, "1-pin-on-tiles")

        # An address from the tenant's own places moves the pin there.
        browser.find_element(By.ID, "id_address").send_keys("12 Main")
        suggestion = browser.find_element(By.CSS_SELECTOR, "#address-suggestions button")
        wait_for(suggestion.is_displayed, 5, "the suggestion")
        assert suggestion.text == "12 Main Street"
        _shot(browser, "2-address-suggested")
        suggestion.click()
        assert _point(browser) == (39.81, -89.66)
        assert browser.execute_script("return window.points")[-1] == {"latitude": 39.81, "longitude": -89.66}

        report = _submitted(browser, city)
        _shot(browser, "3-tracking")
        assert (report.latitude, report.longitude, report.address) == (39.81, -89.66, "12 Main Street")
        with tenant_context(city):
            wait_for(lambda: Report.objects.get(pk=report.pk).status == "processed", 60, "processing")


def test_a_point_outside_the_area_is_said_at_once(city, tiles, browser, django_db_blocker) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    with django_db_blocker.unblock(), web_server() as port:
        _tiles_for(tiles.url)
        browser.get(f"http://{SLUG}.localhost:{port}/report/")
        wait_for(
            lambda: browser.find_element(By.ID, "tile-map").get_attribute("data-state") == "tiles",
            20,
            "tiles",
        )
        # The map opens on the area, whole: the wide map's right edge lies east of it.
        ActionChains(browser).move_to_element_with_offset(
            browser.find_element(By.ID, "tile-map"), 390, 0
        ).click().perform()
        where = browser.find_element(By.ID, "where")
        wait_for(lambda: "outside" in where.text, 5, "the message")
        _shot(browser, "4-outside-the-area")


def test_the_pin_by_keyboard_alone(city, tiles, browser, django_db_blocker) -> None:
    """No mouse: the focused map pans with the arrow keys, Enter puts the pin at its
    centre, and the focused pin moves with the arrow keys (the map staying put)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with django_db_blocker.unblock(), web_server() as port:
        _tiles_for(tiles.url)
        browser.get(f"http://{SLUG}.localhost:{port}/report/")
        tile_map = browser.find_element(By.ID, "tile-map")
        wait_for(lambda: tile_map.get_attribute("data-state") == "tiles", 20, "tiles")
        help_text = browser.find_element(By.ID, "map-keys")
        assert help_text.is_displayed() and "Enter" in help_text.text
        assert tile_map.get_attribute("aria-describedby") == "map-keys"
        # Tab from the address box's neighbour ("use my location") reaches the map.
        browser.execute_script("document.getElementById('locate').focus()")
        ActionChains(browser).send_keys(Keys.TAB).perform()
        assert browser.switch_to.active_element == tile_map
        # Zoomed in ("=" is Leaflet's "+" key) and panned west, each animated: Enter once
        # the map has come to rest (Leaflet ignores keys while it moves).
        ActionChains(browser).send_keys("=").pause(1).send_keys(Keys.ARROW_LEFT).pause(1).send_keys(
            Keys.ENTER
        ).perform()
        wait_for(lambda: browser.find_element(By.ID, "id_latitude").get_attribute("value"), 5, "the pin")
        centre = _point(browser)
        # Panned west of the area's centre (-89.65), still inside the area.
        assert 39.75 <= centre[0] <= 39.85 and -89.70 <= centre[1] < -89.65
        assert "outside" not in browser.find_element(By.ID, "where").text
        _shot(browser, "8-pin-by-keyboard")

        pin = browser.find_element(By.CSS_SELECTOR, "#tile-map .leaflet-marker-icon")
        browser.execute_script("arguments[0].focus()", pin)
        ActionChains(browser).send_keys(Keys.ARROW_RIGHT, Keys.ARROW_UP).perform()
        moved = _point(browser)
        assert moved[1] > centre[1] and moved[0] > centre[0]
        assert browser.switch_to.active_element == pin
        # The map did not pan under the pin: Enter on the map gives the same centre again.
        browser.execute_script("arguments[0].focus()", tile_map)
        ActionChains(browser).send_keys(Keys.ENTER).perform()
        assert _point(browser) == centre


@pytest.mark.parametrize("case", ["no tile URL", "tiles failing"])
def test_the_outline_map_takes_over_and_the_form_still_sends(
    city, tiles, browser, django_db_blocker, case
) -> None:
    from selenium.webdriver.common.by import By

    tiles.fail = case == "tiles failing"
    try:
        with django_db_blocker.unblock(), web_server() as port:
            _tiles_for("" if case == "no tile URL" else tiles.url)
            browser.get(f"http://{SLUG}.localhost:{port}/report/")
            wait_for(
                lambda: browser.find_element(By.ID, "tile-map").get_attribute("data-state") == "fallback",
                20,
                "the fallback",
            )
            assert not browser.find_element(By.ID, "tile-map").is_displayed()
            browser.find_element(By.NAME, "description").send_keys("Broken bench in the square")
            browser.find_element(By.CSS_SELECTOR, "#map svg").click()
            lat, lon = _point(browser)
            assert 39.75 <= lat <= 39.85 and -89.70 <= lon <= -89.60
            _shot(browser, f"5-outline-map-{case.replace(' ', '-')}")
            report = _submitted(browser, city)
            assert report.latitude == pytest.approx(lat, abs=1e-5)
    finally:
        tiles.fail = False


def test_the_staff_dashboard_map_loads_markers_for_its_viewport(
    city, tiles, browser, django_db_blocker
) -> None:
    from selenium.webdriver.common.by import By

    with django_db_blocker.unblock(), web_server() as port:
        _tiles_for(tiles.url)
        base = f"http://{SLUG}.localhost:{port}"
        browser.get(f"{base}/admin/login/?next=/admin/analytics/scorerun/dashboard/")
        browser.find_element(By.NAME, "username").send_keys("mapper")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        wait_for(lambda: "/admin/login/" not in browser.current_url, 20, "the sign-in")
        staff_map = browser.find_element(By.ID, "staff-map")
        browser.execute_script("arguments[0].scrollIntoView()", staff_map)
        wait_for(lambda: staff_map.get_attribute("data-markers") not in (None, "", "0"), 20, "the markers")
        assert int(staff_map.get_attribute("data-markers")) >= 28  # the viewport's open issues
        assert not browser.find_element(By.ID, "map-svg").is_displayed()
        _shot(browser, "6-staff-dashboard-map")

        # The issue page: its reports on the tiles, the scaled drawing kept as fallback.
        with tenant_context(city):
            from issues.models import Issue

            issue_id = Issue.objects.get(title="Reported twice").pk
        browser.get(f"{base}/admin/issues/issue/{issue_id}/change/")
        issue_map = browser.find_element(By.ID, "issue-map")
        wait_for(lambda: issue_map.get_attribute("data-state") == "tiles", 20, "the issue map's tiles")
        assert browser.find_elements(By.CSS_SELECTOR, "#issue-map .leaflet-marker-icon")
        assert not browser.find_element(By.ID, "issue-map-svg").is_displayed()
        browser.execute_script("arguments[0].scrollIntoView()", issue_map)
        _shot(browser, "7-staff-issue-map")


def test_the_public_map_past_its_limit_asks_again_for_each_viewport(
    city, tiles, browser, django_db_blocker
) -> None:
    """Only the newest markers fit one answer (here 5 of the city's 31): the public map
    says so, and once zoomed in on a corner it asks for that viewport and shows the
    issues there, the oldest included."""
    from selenium.webdriver.common.by import By

    with django_db_blocker.unblock(), web_server({"PUBLIC_MARKERS_LIMIT": "5"}) as port:
        _tiles_for(tiles.url)
        browser.get(f"http://{SLUG}.localhost:{port}/issues/")
        issues_map = browser.find_element(By.ID, "issues-map")
        wait_for(lambda: issues_map.get_attribute("data-markers") == "5", 20, "the newest markers")
        assert issues_map.get_attribute("data-truncated") == "1"
        assert browser.find_element(By.ID, "issues-map-note").is_displayed()
        _shot(browser, "9-public-map-truncated")
        # The oldest issue (the first of the grid) lies in the south-west corner, alone.
        browser.execute_script("arguments[0].civicMap.setView([39.76, -89.69], 16)", issues_map)
        wait_for(lambda: issues_map.get_attribute("data-markers") == "1", 20, "the corner's marker")
        assert issues_map.get_attribute("data-truncated") == ""
        assert not browser.find_element(By.ID, "issues-map-note").is_displayed()
        with tenant_context(city):
            from issues.models import Issue

            oldest = Issue.objects.order_by("created_at", "id").first()
        assert oldest is not None and (oldest.latitude, oldest.longitude) == (39.76, -89.69)
        assert (
            browser.find_element(By.CSS_SELECTOR, "#issues-map .leaflet-marker-icon").get_attribute("title")
            == oldest.title
        )
