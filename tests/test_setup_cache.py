"""What the pipeline's batches read of a tenant's set-up (categories, grouping policy,
related categories, areas, departments, model endpoint, latest learned model) is kept by
each process for SETUP_CACHE_SECONDS (civicpulse.core.kept): read once in the window,
never another tenant's, and a change reaches the pipeline within that time."""

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

import llm.learning as learning
from issues.models import Category, Department, GroupingPolicy
from issues.selectors import categories_kept, setup_forget
from llm.client import endpoint_kept
from reports.models import Report
from reports.services.batch import reports_process_batch
from reports.services.intake import report_submit
from reports.services.outbox import reports_claim

LAT, LON = 39.7817, -89.6501
SETUP_TABLES = (
    "issues_category",
    "issues_groupingpolicy",
    "issues_category_related",
    "issues_area",
    "issues_department",
    "llm_endpoint",
    "llm_trainedclassifier",
)


def _forget_all() -> None:
    setup_forget()
    endpoint_kept.forget()
    learning._latest_row_kept.forget()


@pytest.fixture
def clock(settings, kept_clock) -> Iterator[list[float]]:
    """A five-second window, on a clock the test moves; nothing kept from before."""
    settings.SETUP_CACHE_SECONDS = 5
    _forget_all()
    yield kept_clock
    _forget_all()


def _batch(*texts: str, lat: float = LAT, category: str | None = None) -> tuple[list[Report], set[str]]:
    """Submit and process these reports as one batch: the reports, and which set-up tables
    the batch read."""
    for offset, text in enumerate(texts):
        report_submit(description=text, latitude=lat + offset * 0.01, longitude=LON, category_code=category)
    with CaptureQueriesContext(connection) as queries:
        ids = reports_claim(limit=len(texts))
        assert reports_process_batch(report_ids=ids) == len(texts)
    read = {
        table for table in SETUP_TABLES for q in queries.captured_queries if f'FROM "{table}"' in q["sql"]
    }
    return list(Report.objects.filter(pk__in=ids).select_related("category", "issue")), read


def test_a_batch_reads_the_setup_once_in_the_window(tenant_a, clock) -> None:
    first, first_read = _batch("Deep pothole in the road", "Graffiti sprayed on the wall")
    assert first_read == set(SETUP_TABLES)
    clock[0] += 4
    again, again_read = _batch("Another pothole on the avenue", "Overflowing trash bin on the corner")
    assert again_read == set()
    assert {r.status for r in first + again} == {Report.Status.PROCESSED}
    assert all(r.issue is not None and r.category is not None for r in again)
    clock[0] += 2
    assert _batch("A pothole by the school")[1] >= {
        "issues_category",
        "issues_groupingpolicy",
        "llm_endpoint",
    }


def test_a_change_reaches_the_pipeline_within_the_window(tenant_a, clock) -> None:
    _batch("Deep pothole in the road")
    Category.objects.filter(code="potholes").update(active=False)
    GroupingPolicy.objects.update_or_create(pk=1, defaults={"radius_m": 10})
    clock[0] += 4
    (kept_report,), _ = _batch("Another deep pothole in the road", lat=LAT + 0.0002)
    assert kept_report.category.code == "potholes"  # the window's categories
    assert kept_report.match["thresholds"]["radius_m"] == 50  # and policy
    assert kept_report.issue.report_count == 2  # 22 m away: joined under the old radius
    clock[0] += 2
    (changed,), _ = _batch("A third deep pothole in the road", lat=LAT + 0.0001)
    assert changed.category is None or changed.category.code != "potholes"
    assert changed.match["thresholds"]["radius_m"] == 10


def test_each_tenant_reads_its_own_setup(tenant_pair, db, clock) -> None:
    alpha, beta = tenant_pair
    with tenant_context(alpha):
        alpha_codes = set(categories_kept())
    with tenant_context(beta):
        beta_codes = set(categories_kept())
        assert beta_codes == set(Category.objects.values_list("code", flat=True))
    assert "potholes" in alpha_codes and "potholes" not in beta_codes
    with tenant_context(alpha):
        assert set(categories_kept()) == alpha_codes


def test_a_department_made_within_the_window_gets_its_issues(tenant_a, clock) -> None:
    _batch("Deep pothole in the road")
    crew = Department.objects.create(name="Paint crew", code="paint")
    Category.objects.filter(code="graffiti").update(department=crew)
    clock[0] += 1
    (report,), _ = _batch("Tags sprayed on the underpass", category="graffiti")
    assert report.issue.department_id == crew.pk


def test_a_category_deleted_within_the_window_fails_no_report(tenant_a, clock) -> None:
    kiosk = Category.objects.create(
        code="kiosks", name="Information kiosk", description="A broken information kiosk.", keywords=["kiosk"]
    )
    _batch("Deep pothole in the road")
    assert "kiosks" in categories_kept()
    kiosk.delete()
    clock[0] += 1
    with connection.cursor() as cursor:  # as the batch's own commit would, outside the test's transaction
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    (report,), _ = _batch("The information kiosk is broken, the kiosk screen is dark")
    assert report.status == Report.Status.PROCESSED and report.issue is not None
    assert report.category is None or report.category.code != "kiosks"
    assert "kiosks" not in categories_kept()  # the failed batch made the process read again


def test_a_tenant_no_longer_served_is_dropped_after_its_window(tenant_pair, db, clock) -> None:
    alpha, beta = tenant_pair
    with tenant_context(alpha):
        categories_kept()
    clock[0] += 6
    with tenant_context(beta):
        categories_kept()
    assert categories_kept.kept_count() == 1  # alpha's expired value went as beta's was kept


def test_the_console_says_where_a_change_waits_for_the_window(client_a, tenant_a) -> None:
    from django.contrib.auth import get_user_model

    from issues.models import Area

    client_a.force_login(get_user_model().objects.create_superuser("setup-staff", "s@example.org", "pw"))
    area = Area.objects.create(code="ward-9", name="Ward 9")
    department = Department.objects.first()
    category = Category.objects.first()
    for url in (
        f"/admin/issues/category/{category.pk}/change/",
        "/admin/issues/groupingpolicy/1/change/",
        f"/admin/issues/area/{area.pk}/change/",
        f"/admin/issues/department/{department.pk}/change/",
        "/admin/llm/endpoint/add/",
    ):
        page = client_a.get(url)
        assert page.status_code == 200, url
        assert "SETUP_CACHE_SECONDS" in page.content.decode(), url
