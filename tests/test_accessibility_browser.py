"""The Spanish report form end to end in a real headless Chromium against real gunicorn,
and axe-core on the resident pages: a resident switches to Spanish, is told in Spanish
what is missing, sees the problems already reported near their location, sends the report
and lands on the Spanish tracking page; the form, the tracking page, the public issues page
an issue's public page, the tenant's home, tracking search and accountability pages and
the public site have no serious or critical axe violation.
axe-core comes from npm (scripts/fetch_axe.sh, into .local/); screenshots are kept in
test-artifacts/languages/."""

import json
import subprocess
from collections.abc import Iterator

import pytest
from django_tenants.utils import tenant_context

from issues.models import MapSettings
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
SLUG = "idioma-city"
ARTIFACTS = ROOT / "test-artifacts" / "languages"
AXE = ROOT / ".local" / "axe-core" / "axe.min.js"
HERE = {"latitude": 39.8003, "longitude": -89.6502, "accuracy": 10}  # about 35 m from the issue
# WCAG 2.1 A and AA rules; the verdicts that fail the test.
_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
  .then(r => done(JSON.stringify(r.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)})))))
  .catch(e => done(JSON.stringify([{id: "axe-error", impact: "critical", help: String(e), nodes: []}])));
"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        subprocess.run([str(ROOT / "scripts" / "fetch_axe.sh")], check=True, timeout=300)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker) -> Iterator[tuple[Tenant, int]]:
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Ciudad Idioma", "city") as tenant:
        with tenant_context(tenant):
            ring = [[-89.70, 39.75], [-89.60, 39.75], [-89.60, 39.85], [-89.70, 39.85], [-89.70, 39.75]]
            area_upsert(code="centro", name="Centro", boundary={"type": "Polygon", "coordinates": [ring]})
            first = report_submit(
                description="Pothole on Elm Street", latitude=39.8, longitude=-89.65, enqueue=False
            ).report
            report_process(report_id=first.pk)
            issue_id = Report.objects.get(pk=first.pk).issue_id
            assert issue_id is not None
        yield tenant, issue_id


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(window="1280,2000", artifacts=ARTIFACTS) as chromium:
        yield chromium


def _page_language(browser) -> str:
    # Read in one script call: an element found before a navigation goes stale after it.
    return browser.execute_script("return document.documentElement.lang")


def _serious(browser, axe_source: str) -> list[dict]:
    browser.execute_script(axe_source)
    browser.set_script_timeout(60)
    violations = json.loads(browser.execute_async_script(_RUN_AXE))
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def test_spanish_report_form_end_to_end_and_axe(city, browser, axe_source, django_db_blocker) -> None:
    from selenium.webdriver.common.by import By

    tenant, issue_id = city
    found: dict[str, list[dict]] = {}
    with django_db_blocker.unblock(), web_server() as port, celery_worker("io", "threads", "io-idioma"):
        base = f"http://{SLUG}.localhost:{port}"
        browser.get(f"{base}/report/")
        found["form, en"] = _serious(browser, axe_source)
        # The switcher: one button per other language, named in its own language.
        browser.find_element(By.CSS_SELECTOR, "footer button[value=es]").click()
        wait_for(lambda: _page_language(browser) == "es", 10, "Spanish")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Reportar un problema"
        assert (
            browser.find_element(By.CSS_SELECTOR, "label[for=id_description]").text == "¿Cuál es el problema?"
        )
        found["form, es"] = _serious(browser, axe_source)
        browser.save_screenshot(str(ARTIFACTS / "1-form-es.png"))

        # Sent without a place: the error comes back in Spanish, with what was typed.
        browser.find_element(By.ID, "id_description").send_keys("Bache enorme frente a la escuela")
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]:not([name=language])").click()
        wait_for(lambda: "Indique un punto" in browser.page_source, 10, "the Spanish error")
        found["form with errors, es"] = _serious(browser, axe_source)
        # "Use my location": the problems already reported nearby, in Spanish.
        browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": base, "permissions": ["geolocation"]})
        browser.execute_cdp_cmd("Emulation.setGeolocationOverride", HERE)
        browser.find_element(By.ID, "locate").click()
        item = f'#nearby-list li[data-issue="{issue_id}"]'
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, item), 15, "the issue nearby")
        assert "a menos de 200 m" in browser.find_element(By.ID, "nearby-status").text
        assert "Reportado por" in browser.find_element(By.CSS_SELECTOR, item).text
        # The outline map (no tiles here) draws the pin where the location is, in Spanish
        # too (its numbers are never written with a decimal comma): x is 49.8 % across the
        # area's 600 units, y 49.7 % down.
        pin = browser.execute_script(
            "const p = document.getElementById('pin'), box = p.ownerSVGElement.viewBox.baseVal;"
            "return [p.cx.baseVal.value / box.width, p.cy.baseVal.value / box.height]"
        )
        assert pin == [pytest.approx(0.498, abs=0.005), pytest.approx(0.497, abs=0.005)]
        found["form with nearby problems, es"] = _serious(browser, axe_source)
        browser.save_screenshot(str(ARTIFACTS / "2-nearby-es.png"))
        browser.find_element(By.ID, "id_address").send_keys("Calle Olmo 12")
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]:not([name=language])").click()
        wait_for(lambda: "/track/" in browser.current_url, 15, "the tracking page")
        page = browser.find_element(By.TAG_NAME, "main").text
        assert "Código de seguimiento" in page and "Bache enorme frente a la escuela" in page
        browser.save_screenshot(str(ARTIFACTS / "3-tracking-es.png"))
        found["tracking page, es"] = _serious(browser, axe_source)
        tracking_id = browser.current_url.rstrip("/").rsplit("/", 1)[1]
        with tenant_context(tenant):
            assert Report.objects.get(tracking_id=tracking_id).language == "es"
            # The worker classifies and groups it; the page then says where it stands, in Spanish.
            wait_for(
                lambda: Report.objects.get(tracking_id=tracking_id).status == "processed", 60, "processing"
            )
        browser.refresh()
        page = browser.find_element(By.TAG_NAME, "main").text
        assert "Estado: Abierto" in page and "Recibido" not in page
        browser.save_screenshot(str(ARTIFACTS / "3-tracking-processed-es.png"))

        pages = ("/issues/", f"/issues/{issue_id}/", "/", "/track/", "/accountability/")
        for path in pages:
            browser.get(f"{base}{path}")
            assert _page_language(browser) == "es"
            found[f"{path}, es"] = _serious(browser, axe_source)
        browser.find_element(By.CSS_SELECTOR, "footer button[value=en]").click()
        wait_for(lambda: _page_language(browser) == "en", 10, "English")
        found[f"/issues/{issue_id}/, en"] = _serious(browser, axe_source)
        browser.get(f"{base}/issues/")
        found["/issues/, en"] = _serious(browser, axe_source)
        browser.save_screenshot(str(ARTIFACTS / "4-issues-en.png"))
        # The public site: the directory and the leaderboard.
        for path in ("/", "/leaderboard/"):
            browser.get(f"http://localhost:{port}{path}")
            found[f"public site {path}, en"] = _serious(browser, axe_source)
    assert not any(found.values()), json.dumps({k: v for k, v in found.items() if v}, indent=1)


@pytest.fixture(scope="module")
def tiles(city, django_db_blocker) -> Iterator[TileServer]:
    """Street tiles from a local server, set as the city's own: module-scoped, so
    committed outside any test's transaction for gunicorn to read (the first test, which
    asks for none, has run before)."""
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


def _axe_on_tiles(browser, axe_source: str, base: str, language: str, issue_id: int) -> dict[str, list[dict]]:
    """axe on the tiled form (before and after a pin, with the nearby panel) and on the
    tiled public list, in one language."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    found: dict[str, list[dict]] = {}
    browser.delete_all_cookies()
    browser.get(f"{base}/report/")
    if _page_language(browser) != language:
        browser.find_element(By.CSS_SELECTOR, f"footer button[value={language}]").click()
        wait_for(lambda: _page_language(browser) == language, 10, language)
    tile_map = browser.find_element(By.ID, "tile-map")
    wait_for(lambda: tile_map.get_attribute("data-state") == "tiles", 20, "the tiles")
    found[f"form on tiles, {language}"] = _serious(browser, axe_source)
    # The pin by keyboard at the map's centre, where the issue is.
    browser.execute_script("arguments[0].focus()", tile_map)
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    item = f'#nearby-list li[data-issue="{issue_id}"]'
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, item), 15, "the issue nearby")
    found[f"form on tiles with a pin and the nearby panel, {language}"] = _serious(browser, axe_source)
    browser.get(f"{base}/issues/")
    issues_map = browser.find_element(By.ID, "issues-map")
    wait_for(lambda: issues_map.get_attribute("data-markers") not in (None, "", "0"), 20, "its markers")
    found[f"/issues/ on tiles, {language}"] = _serious(browser, axe_source)
    return found


def test_axe_with_street_tiles(city, tiles, browser, axe_source, django_db_blocker) -> None:
    """What a real install shows (Leaflet on tiles): the form with its pin and the nearby
    panel, and the public list with its clustered map, in both languages."""
    _, issue_id = city
    found: dict[str, list[dict]] = {}
    with django_db_blocker.unblock(), web_server() as port:
        base = f"http://{SLUG}.localhost:{port}"
        for language in ("en", "es"):
            found.update(_axe_on_tiles(browser, axe_source, base, language, issue_id))
        browser.save_screenshot(str(ARTIFACTS / "5-issues-on-tiles-es.png"))
    assert not any(found.values()), json.dumps({k: v for k, v in found.items() if v}, indent=1)
