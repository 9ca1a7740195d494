"""The staff dashboard and the public accountability page in a real headless Chromium,
served by real gunicorn from committed rows in a tenant of its own: every chart is
drawn and visible. Screenshots are kept in test-artifacts/dashboards/."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tenants.utils import tenant_context

from analytics.rules.models import Rule
from analytics.rules.services import rules_evaluate
from analytics.scores.services import scores_backfill, scores_compute
from issues.services.taxonomy import area_upsert
from tenants.models import Tenant
from tests.support.factories import CategoryFactory, IssueFactory
from tests.support.scoring_helpers import resolved_issue
from tests.support.services import ROOT, committed_tenant, headless_chromium, wait_for, web_server

# Asks pytest-django for the test database (the rows themselves are committed by the
# module's fixture, outside the test's transaction).
pytestmark = [pytest.mark.django_db, pytest.mark.browser, pytest.mark.slow]
SLUG = "dash-city"
ARTIFACTS = ROOT / "test-artifacts" / "dashboards"
PASSWORD = "pw-dash-browser-123456"


@pytest.fixture(scope="module")
def dash_tenant(django_db_setup, django_db_blocker) -> Iterator[Tenant]:
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Dashboard City", "city") as tenant:
        with tenant_context(tenant):
            _seed()
            get_user_model().objects.create_superuser("dashboard", "d@example.org", PASSWORD)
        yield tenant


def _seed() -> None:
    """Three districts side by side, two kinds of problem, a month of fixes (some late)
    and a backlog, then a week of daily runs and this hour's, and the rules."""
    areas = []
    for n, (code, name) in enumerate((("west", "West End"), ("centre", "Centre"), ("east", "East Side"))):
        x = -89.70 + n * 0.04
        ring = [[x, 39.75], [x + 0.04, 39.75], [x + 0.04, 39.80], [x, 39.80], [x, 39.75]]
        areas.append(area_upsert(code=code, name=name, boundary={"type": "Polygon", "coordinates": [ring]}))
    roads = CategoryFactory(code="roads_dash", name="Roads")
    lights = CategoryFactory(code="lights_dash", name="Street lights")
    now = timezone.now()
    for n in range(90):
        area = areas[n % 3]
        late = n % (3 + n % 3) == 0
        resolved_issue(
            area=area,
            category=roads if n % 2 else lights,
            used=1.6 if late else 0.2 + (n % 5) / 10,
            hours=4 + n % 40,
            resolved_ago=timedelta(days=n % 28, hours=2),
            now=now,
            latitude=39.76 + (n % 7) * 0.005,
            longitude=-89.69 + (n % 3) * 0.04 + (n % 5) * 0.004,
        )
    for n in range(40):
        IssueFactory(
            area=areas[n % 3],
            category=roads if n % 3 else lights,
            status=("open", "acknowledged", "in_progress")[n % 3],
            created_at=now - timedelta(days=n % 45, hours=3),
            latitude=39.755 + (n % 9) * 0.005,
            longitude=-89.695 + (n % 11) * 0.01,
        )
    Rule.objects.filter(code="aging_open").update(params={"count": 2, "days": 30})
    scores_backfill(days=7)
    scores_compute()
    rules_evaluate()


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(window="1280,2400", artifacts=ARTIFACTS) as chromium:
        yield chromium


def _charts_visible(browser, at_least: int) -> int:
    from selenium.webdriver.common.by import By

    charts = browser.find_elements(By.CSS_SELECTOR, "svg[role=img]")
    assert len(charts) >= at_least
    for chart in charts:
        browser.execute_script("arguments[0].scrollIntoView()", chart)
        assert chart.is_displayed() and chart.size["width"] > 200 and chart.size["height"] > 20
        # Something is drawn in it: bars, lines, points or shapes.
        assert chart.find_elements(By.CSS_SELECTOR, "rect, polyline, circle, polygon, text")
    browser.execute_script("window.scrollTo(0, 0)")
    return len(charts)


def test_dashboard_and_public_page_draw_their_charts(dash_tenant, browser, django_db_blocker) -> None:
    from selenium.webdriver.common.by import By

    with django_db_blocker.unblock(), web_server() as port:
        base = f"http://{SLUG}.localhost:{port}"
        browser.get(f"{base}/admin/login/?next=/admin/analytics/scorerun/dashboard/")
        browser.find_element(By.NAME, "username").send_keys("dashboard")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        wait_for(lambda: "/admin/login/" not in browser.current_url, 20, "the sign-in")
        browser.get(f"{base}/admin/analytics/scorerun/dashboard/?period=30")
        assert _charts_visible(browser, 7) == 7
        assert browser.find_elements(By.CSS_SELECTOR, "#map svg circle") and browser.find_elements(
            By.CSS_SELECTOR, "#map svg polygon"
        )
        assert browser.find_elements(By.CSS_SELECTOR, "#trend svg polyline")
        browser.save_screenshot(str(ARTIFACTS / "1-staff-dashboard.png"))
        browser.execute_script(
            "arguments[0].scrollIntoView();", browser.find_element(By.CSS_SELECTOR, "#map")
        )
        browser.save_screenshot(str(ARTIFACTS / "2-staff-dashboard-map.png"))

        # Filtered to one area: the map keeps that district only.
        with tenant_context(dash_tenant):
            from issues.models import Area

            centre = Area.objects.get(code="centre").pk
        browser.get(f"{base}/admin/analytics/scorerun/dashboard/?period=90&area={centre}")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#map svg polygon")) == 1
        _charts_visible(browser, 6)

        # The public page, signed out, at a phone's width.
        browser.delete_all_cookies()
        browser.set_window_size(430, 2400)
        browser.get(f"{base}/accountability/")
        assert "How we are doing" in browser.find_element(By.TAG_NAME, "h1").text
        assert _charts_visible(browser, 6) >= 6
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 430 + 1
        assert browser.find_elements(By.CSS_SELECTOR, "#rankings svg rect")
        browser.save_screenshot(str(ARTIFACTS / "3-public-page-phone.png"))
        browser.set_window_size(1280, 2400)
    for name in ("1-staff-dashboard", "2-staff-dashboard-map", "3-public-page-phone"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
