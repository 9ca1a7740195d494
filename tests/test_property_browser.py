"""The analyst's whole path in a real headless Chromium, served by real gunicorn from
committed rows in a city of its own: sign up → search (with the autocomplete) → the
lookup's answer and its confidence → the report (gauge, map, flag cards, tabs) → its PDF.
Screenshots are kept in test-artifacts/property/."""

import base64
import io
from collections.abc import Iterator

import pytest
from django_tenants.utils import tenant_context
from pypdf import PdfReader

from tenants.models import Tenant
from tests.support.property_data import property_with_records
from tests.support.services import ROOT, committed_tenant, headless_chromium, wait_for, web_server

pytestmark = [pytest.mark.django_db, pytest.mark.browser, pytest.mark.slow]
SLUG = "prop-city"
ARTIFACTS = ROOT / "test-artifacts" / "property"


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker) -> Iterator[Tenant]:
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Property City", "city") as tenant:
        Tenant.objects.filter(pk=tenant.pk).update(analyst_accounts_enabled=True)
        with tenant_context(tenant):
            property_with_records(open_violations=6)
        yield tenant


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(window="1280,2000", artifacts=ARTIFACTS) as chromium:
        yield chromium


_FETCH_PDF = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: "same-origin"}).then(r => r.arrayBuffer()).then(buf => {
  let s = ""; new Uint8Array(buf).forEach(b => s += String.fromCharCode(b)); done(btoa(s));
}).catch(e => done("error: " + e));
"""


def test_sign_up_search_report_and_pdf(city, browser, django_db_blocker) -> None:
    from selenium.webdriver.common.by import By

    with django_db_blocker.unblock(), web_server() as port:
        base = f"http://{SLUG}.localhost:{port}"
        # Phone width: the pages fit without scrolling sideways.
        browser.set_window_size(420, 2000)
        browser.get(f"{base}/property/signup/")
        for field, value in (
            ("full_name", "Grace Hopper"),
            ("email", "grace@example.org"),
            ("organisation", "Compilers Inc"),
            ("password", "a-very-long-passphrase-7"),
        ):
            # Every field has its label.
            label = browser.find_element(By.CSS_SELECTOR, f"label[for=id_{field}]")
            assert label.text
            browser.find_element(By.ID, f"id_{field}").send_keys(value)
        browser.save_screenshot(str(ARTIFACTS / "1-sign-up-phone.png"))
        browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        wait_for(lambda: browser.current_url.rstrip("/").endswith("/property"), 20, "the dashboard")
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 420 + 1
        assert browser.find_element(By.ID, "report-count").text == "0"
        browser.set_window_size(1280, 2000)

        # The autocomplete offers the known address as one types.
        box = browser.find_element(By.ID, "id_address")
        box.send_keys("12 n ma")
        wait_for(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#address-suggestions option"),
            10,
            "the suggestions",
        )
        option = browser.find_element(By.CSS_SELECTOR, "#address-suggestions option")
        assert option.get_attribute("value") == "12 N Main St, Chicago IL 60601"
        box.clear()
        box.send_keys("12 North Main Street")
        browser.find_element(By.CSS_SELECTOR, "form[role=search] button[type=submit]").click()
        wait_for(lambda: browser.find_elements(By.ID, "lookup-result"), 20, "the lookup's answer")
        assert browser.find_element(By.ID, "match-confidence").text == "EXACT_ADDRESS"
        assert browser.find_element(By.ID, "parse-confidence").text == "HIGH"
        browser.save_screenshot(str(ARTIFACTS / "2-lookup.png"))

        browser.find_element(By.CSS_SELECTOR, "#lookup-result button[type=submit]").click()
        wait_for(lambda: "/property/reports/" in browser.current_url, 30, "the report")
        assert browser.find_element(By.ID, "score").text == "7"
        assert browser.find_element(By.ID, "tier").text == "HIGH"
        gauge = browser.find_element(By.CSS_SELECTOR, "#gauge svg[role=img]")
        assert gauge.is_displayed() and gauge.find_elements(By.CSS_SELECTOR, "path, line")
        assert browser.find_elements(By.CSS_SELECTOR, "#map svg circle")
        cards = browser.find_elements(By.CSS_SELECTOR, "#flags .flag")
        assert [c.find_element(By.CSS_SELECTOR, ".code").text for c in cards] == ["A1", "C1", "C2"]
        assert "not legal, financial or professional advice" in browser.find_element(By.ID, "disclaimer").text
        # Six record tabs; the first shows, the others are hidden until chosen.
        tabs = browser.find_elements(By.CSS_SELECTOR, "[role=tab]")
        assert len(tabs) == 6 and tabs[0].get_attribute("aria-selected") == "true"
        assert browser.find_element(By.ID, "panel-violations").is_displayed()
        assert not browser.find_element(By.ID, "panel-tax-sales").is_displayed()
        browser.find_element(By.ID, "tab-tax-sales").click()
        assert browser.find_element(By.ID, "panel-tax-sales").is_displayed()
        assert "17091000010000" in browser.find_element(By.ID, "panel-tax-sales").text
        browser.save_screenshot(str(ARTIFACTS / "3-report.png"))

        pdf_url = browser.find_element(By.ID, "pdf-link").get_attribute("href")
        encoded = browser.execute_async_script(_FETCH_PDF, pdf_url)
        assert not encoded.startswith("error"), encoded
        pdf = base64.b64decode(encoded)
        assert pdf.startswith(b"%PDF")
        text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf)).pages)
        assert "12 N Main St, Chicago IL 60601" in text and "Raw score 7, tier HIGH" in text

        # The dashboard lists the report; the console stays closed to an analyst.
        browser.get(f"{base}/property/")
        assert browser.find_element(By.ID, "report-count").text == "1"
        browser.get(f"{base}/admin/")
        assert "/admin/login/" in browser.current_url
    for name in ("1-sign-up-phone", "2-lookup", "3-report"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000
