""" "Already reported near here?" and "Me too" in a real headless Chromium, against real
gunicorn, a real worker and committed rows in a city of its own: a resident gives their
place ("use my location"), sees the issue already reported there (with its approved
photo), presses "Me too", and the tracking page shows their report joined to that issue
with the count raised; the public issues page then lists it, filtered. Screenshots are
kept in test-artifacts/me-too/."""

import io
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image

from issues.models import Issue, MapSettings
from issues.services.taxonomy import area_upsert
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.pipeline import report_process
from tenants.models import Tenant
from tests.support.services import (
    ROOT,
    celery_worker,
    committed_tenant,
    headless_chromium,
    wait_for,
    web_server,
)
from tests.test_maps_browser import TileServer

pytestmark = [pytest.mark.django_db, pytest.mark.worker, pytest.mark.browser, pytest.mark.slow]
SLUG = "metoo-city"
ARTIFACTS = ROOT / "test-artifacts" / "me-too"
ISSUE_TEXT = "Street light out on Elm Street, the whole corner is dark at night"
# Where the resident stands: about 35 m from the issue.
HERE = {"latitude": 39.8003, "longitude": -89.6502, "accuracy": 10}


def _photo() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (96, 64), (30, 60, 160)).save(out, format="JPEG")
    return SimpleUploadedFile("lamp.jpg", out.getvalue(), content_type="image/jpeg")


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker) -> Iterator[tuple[Tenant, int]]:
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Me Too City", "city") as tenant:
        with tenant_context(tenant):
            ring = [[-89.70, 39.75], [-89.60, 39.75], [-89.60, 39.85], [-89.70, 39.85], [-89.70, 39.75]]
            area_upsert(code="downtown", name="Downtown", boundary={"type": "Polygon", "coordinates": [ring]})
            first = report_submit(
                description=ISSUE_TEXT, latitude=39.8, longitude=-89.65, photo=_photo(), enqueue=False
            ).report
            report_process(report_id=first.pk)
            Report.objects.filter(pk=first.pk).update(photo_approved=True)
            issue_id = Report.objects.get(pk=first.pk).issue_id
            assert issue_id is not None
        yield tenant, issue_id


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(window="430,1600", artifacts=ARTIFACTS) as chromium:
        yield chromium


def test_me_too_joins_the_issue_already_reported(city, browser, django_db_blocker) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    tenant, issue_id = city
    with django_db_blocker.unblock(), web_server() as port, celery_worker("io", "threads", "io-metoo"):
        base = f"http://{SLUG}.localhost:{port}"
        browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": base, "permissions": ["geolocation"]})
        browser.execute_cdp_cmd("Emulation.setGeolocationOverride", HERE)
        browser.get(f"{base}/report/")
        assert not browser.find_element(By.ID, "nearby").is_displayed()  # no point yet
        browser.find_element(By.NAME, "description").send_keys("The lamp at the corner of Elm is still out")
        browser.find_element(By.ID, "locate").click()

        item_css = f'#nearby-list li[data-issue="{issue_id}"]'
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, item_css), 20, "the issue already reported")
        item = browser.find_element(By.CSS_SELECTOR, item_css)
        assert ISSUE_TEXT in item.text and "Reported by 1 person" in item.text and " m away" in item.text
        photo = item.find_element(By.CSS_SELECTOR, "img.nearby-photo")
        wait_for(
            lambda: browser.execute_script("return arguments[0].naturalWidth", photo) > 0, 10, "the photo"
        )
        assert "already reported within 200 m" in browser.find_element(By.ID, "nearby-status").text
        browser.save_screenshot(str(ARTIFACTS / "1-already-reported.png"))

        item.find_element(By.CSS_SELECTOR, "button.nearby-metoo").click()
        wait_for(lambda: "/track/" in browser.current_url, 20, "the tracking page")
        tracking_id = browser.find_element(By.TAG_NAME, "h1").text.strip()
        with tenant_context(tenant):
            wait_for(
                lambda: Report.objects.get(tracking_id=tracking_id).status == "processed", 60, "processing"
            )
            report = Report.objects.get(tracking_id=tracking_id)
            assert report.issue_id == issue_id and report.chosen_issue_id == issue_id
            assert report.match["method"] == "resident"
            assert Issue.objects.get(pk=issue_id).report_count == 2
            category_name = report.category.name

        browser.refresh()
        assert "One other person reported the same problem." in browser.page_source
        link = browser.find_element(By.CSS_SELECTOR, "#issue-link a")
        assert link.get_attribute("href").endswith(f"/issues/{issue_id}/") and link.text == ISSUE_TEXT
        browser.save_screenshot(str(ARTIFACTS / "2-tracking-joined.png"))

        # The public list, filtered by the issue's category, status and area, shows it
        # reported twice; filtered to resolved problems, it is not there.
        browser.get(f"{base}/issues/")

        def _filter(category: str, status: str, area: str) -> None:
            Select(browser.find_element(By.ID, "id_category")).select_by_visible_text(category)
            Select(browser.find_element(By.ID, "id_status")).select_by_visible_text(status)
            Select(browser.find_element(By.ID, "id_area")).select_by_visible_text(area)
            browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
            wait_for(lambda: f"status={status.lower()}" in browser.current_url, 10, "the filtered list")

        _filter(category_name, "Resolved", "Downtown")
        assert browser.find_element(By.ID, "issue-list-empty").is_displayed()
        _filter(category_name, "Open", "Downtown")
        assert "area=downtown" in browser.current_url
        assert Select(browser.find_element(By.ID, "id_area")).first_selected_option.text == "Downtown"
        entry = browser.find_element(By.CSS_SELECTOR, f'#issue-list li[data-issue="{issue_id}"]')
        assert "reported by 2 people" in entry.text
        browser.save_screenshot(str(ARTIFACTS / "3-public-list.png"))
        entry.find_element(By.TAG_NAME, "a").click()
        wait_for(lambda: f"/issues/{issue_id}/" in browser.current_url, 10, "the issue's page")
        assert browser.find_element(By.ID, "issue-count").text == "2 people"
        assert tracking_id not in browser.page_source
    for name in ("1-already-reported", "2-tracking-joined", "3-public-list"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000


@pytest.fixture(scope="module")
def tiles(city, django_db_blocker) -> Iterator[TileServer]:
    """Street tiles from a local test server, set as the city's own (committed, so the web
    server sees them; outside any test's transaction), removed afterwards."""
    tenant, _ = city
    server = TileServer()
    with django_db_blocker.unblock(), tenant_context(tenant):
        MapSettings.objects.update_or_create(
            pk=1, defaults={"tile_url": server.url, "tile_attribution": "Test"}
        )
    yield server
    server.stop()
    with django_db_blocker.unblock(), tenant_context(tenant):
        MapSettings.objects.filter(pk=1).delete()


def test_a_pin_on_the_tiles_finds_the_issue_and_me_too_joins_it(
    city, tiles, browser, django_db_blocker
) -> None:
    """With street tiles (from a local tile server): a pin dropped on the tiled map lists
    the issue already reported there and the map draws it (its popup names the status in
    words); "Me too" sends the report as one more of that issue, and the tracking page
    shows it joined with the count raised. The public list's map shows the issue's
    marker, clustered."""
    from selenium.webdriver.common.by import By

    tenant, issue_id = city
    with tenant_context(tenant):
        before = Issue.objects.get(pk=issue_id).report_count
    with django_db_blocker.unblock(), web_server() as port, celery_worker("io", "threads", "io-metoo-tiles"):
        base = f"http://{SLUG}.localhost:{port}"
        browser.get(f"{base}/report/")
        tile_map = browser.find_element(By.ID, "tile-map")
        wait_for(lambda: tile_map.get_attribute("data-state") == "tiles", 20, "the tiles")
        assert tiles.served > 0 and not browser.find_element(By.ID, "map").is_displayed()
        browser.find_element(By.NAME, "description").send_keys("Lamp post dark again at the Elm corner")
        # The map is fitted to the area, whose centre is where the issue is: a tap there.
        tile_map.click()
        wait_for(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#tile-map .leaflet-marker-icon"), 5, "the pin"
        )
        item_css = f'#nearby-list li[data-issue="{issue_id}"]'
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, item_css), 20, "the issue already reported")
        item = browser.find_element(By.CSS_SELECTOR, item_css)
        assert ISSUE_TEXT in item.text and f"Reported by {before} people" in item.text
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#tile-map .civic-nearby"), 10, "its marker")
        browser.find_element(By.CSS_SELECTOR, "#tile-map path.civic-nearby").click()
        popup = browser.find_element(By.CSS_SELECTOR, "#tile-map .leaflet-popup-content")
        wait_for(lambda: ISSUE_TEXT in popup.text, 5, "the marker's popup")
        assert "Open" in popup.text and "open" not in popup.text.replace(ISSUE_TEXT, "")
        browser.save_screenshot(str(ARTIFACTS / "4-tiles-nearby.png"))

        item.find_element(By.CSS_SELECTOR, "button.nearby-metoo").click()
        wait_for(lambda: "/track/" in browser.current_url, 20, "the tracking page")
        tracking_id = browser.find_element(By.TAG_NAME, "h1").text.strip()
        with tenant_context(tenant):
            wait_for(
                lambda: Report.objects.get(tracking_id=tracking_id).status == "processed", 60, "processing"
            )
            report = Report.objects.get(tracking_id=tracking_id)
            assert report.issue_id == issue_id and report.chosen_issue_id == issue_id
            assert report.match["method"] == "resident"
            assert Issue.objects.get(pk=issue_id).report_count == before + 1
        browser.refresh()
        assert f"{before} other people reported the same problem." in browser.page_source
        assert browser.find_element(By.CSS_SELECTOR, "#issue-link a").text == ISSUE_TEXT
        browser.save_screenshot(str(ARTIFACTS / "5-tiles-tracking-joined.png"))

        browser.get(f"{base}/issues/")
        issues_map = browser.find_element(By.ID, "issues-map")
        wait_for(lambda: issues_map.get_attribute("data-markers") == "1", 20, "the public map's markers")
        assert issues_map.is_displayed() and issues_map.get_attribute("data-state") == "tiles"
        # Clicked from the page's side: the map may still be zooming to its markers.
        marker = browser.find_element(By.CSS_SELECTOR, "#issues-map .leaflet-marker-icon")
        browser.execute_script("arguments[0].click()", marker)
        popup = browser.find_element(By.CSS_SELECTOR, "#issues-map .leaflet-popup-content")
        wait_for(lambda: ISSUE_TEXT in popup.text, 5, "the public marker's popup")
        assert "Open" in popup.text
        browser.save_screenshot(str(ARTIFACTS / "6-public-map.png"))
    for name in ("4-tiles-nearby", "5-tiles-tracking-joined", "6-public-map"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000
