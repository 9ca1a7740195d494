"""End to end in a real headless Chromium: a resident reports through the form and lands
on the tracking page; a staff member resolves the issue in the admin; the tracking page
then says so. Against real gunicorn, a real worker and committed rows, in a tenant of its
own. Screenshots are kept in test-artifacts/e2e/."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from issues.services.taxonomy import area_upsert
from reports.models import Report
from tenants.models import Tenant
from tests.support.services import (
    ROOT,
    celery_worker,
    committed_tenant,
    headless_chromium,
    wait_for,
    web_server,
)

pytestmark = [pytest.mark.worker, pytest.mark.browser, pytest.mark.slow]
SLUG = "e2e-city"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
STAFF_PASSWORD = "pw-e2e-staff-123456"


@pytest.fixture(scope="module")
def e2e_tenant(django_db_setup, django_db_blocker) -> Iterator[Tenant]:
    with django_db_blocker.unblock(), committed_tenant(SLUG, "E2E City", "city") as tenant:
        with tenant_context(tenant):
            ring = [[-89.70, 39.75], [-89.60, 39.75], [-89.60, 39.85], [-89.70, 39.85], [-89.70, 39.75]]
            area_upsert(code="downtown", name="Downtown", boundary={"type": "Polygon", "coordinates": [ring]})
            get_user_model().objects.create_superuser("resolver", "r@example.org", STAFF_PASSWORD)
        yield tenant


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(window="430,1200", artifacts=ARTIFACTS) as chromium:
        yield chromium


def _shot(browser, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def test_report_then_resolve_then_see_it_resolved(e2e_tenant, browser, django_db_blocker) -> None:
    from selenium.webdriver.common.by import By

    with django_db_blocker.unblock(), web_server() as port, celery_worker("io", "threads", "io-e2e"):
        base = f"http://{SLUG}.localhost:{port}"
        # The resident: describe, tap the map, send.
        browser.get(f"{base}/report/")
        browser.find_element(By.NAME, "description").send_keys(
            "Deep pothole in front of the library, bikes swerve into traffic"
        )
        browser.find_element(By.CSS_SELECTOR, "#map svg").click()
        assert browser.find_element(By.ID, "id_latitude").get_attribute("value")
        _shot(browser, "1-form")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: "/track/" in browser.current_url, 20, "the tracking page")
        tracking_id = browser.find_element(By.TAG_NAME, "h1").text.strip()
        assert len(tracking_id) == 10
        _shot(browser, "2-tracking-received")

        with tenant_context(e2e_tenant):
            wait_for(
                lambda: Report.objects.get(tracking_id=tracking_id).status == "processed", 60, "processing"
            )
            report = Report.objects.get(tracking_id=tracking_id)
            assert 39.75 <= report.latitude <= 39.85 and report.category.code == "potholes"
            issue_id = report.issue_id

        # The staff member: sign in, select the issue, resolve it.
        browser.get(f"{base}/admin/login/")
        browser.find_element(By.NAME, "username").send_keys("resolver")
        browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        # The click returns before the sign-in has landed: wait for it, or the next page
        # would open signed out.
        wait_for(lambda: "/admin/login/" not in browser.current_url, 20, "the sign-in")
        browser.get(f"{base}/admin/issues/issue/")
        browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{issue_id}']").click()
        browser.find_element(By.CSS_SELECTOR, "select[name=action] option[value=resolve]").click()
        browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
        wait_for(lambda: "now resolved" in browser.page_source, 20, "the resolve action")
        _shot(browser, "3-admin-resolved")

        # The resident again.
        browser.get(f"{base}/track/{tracking_id}/")
        assert "Status: Resolved" in browser.page_source
        _shot(browser, "4-tracking-resolved")
    for name in ("1-form", "2-tracking-received", "3-admin-resolved", "4-tracking-resolved"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000
