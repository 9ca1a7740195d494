"""Areas, departments and score runs are retired (or kept), never deleted: deleting one
would silently empty the history that points at it (issues' areas and departments,
scores, flags, location reports) and erase the public trend."""

import pytest
from django.contrib.auth import get_user_model
from django.db.models import ProtectedError
from django.utils import timezone

from analytics.scores.models import ScoreRun, ScoreSnapshot
from issues.models import Area, Category, Department
from issues.selectors import area_for_point
from issues.services.grouping import issue_group_report
from tests.support.factories import AreaFactory, IssueFactory

SQUARE = {"type": "Polygon", "coordinates": [[[-90, 39], [-89, 39], [-89, 40], [-90, 40], [-90, 39]]]}


@pytest.fixture
def staff(client_a, tenant_a):
    get_user_model().objects.create_superuser("keeper", "keeper@example.org", "pw-keeper-123456")
    client_a.force_login(get_user_model().objects.get(username="keeper"))
    return client_a


def test_an_area_or_department_with_history_cannot_be_deleted(tenant_a) -> None:
    area = AreaFactory(code="old_town", boundary=SQUARE)
    department = Department.objects.create(code="roads_old", name="Old roads")
    issue = IssueFactory(area=area, department=department)
    with pytest.raises(ProtectedError):
        area.delete()
    with pytest.raises(ProtectedError):
        department.delete()
    issue.refresh_from_db()
    assert (issue.area_id, issue.department_id) == (area.pk, department.pk)


def test_a_department_that_routes_a_category_cannot_be_deleted(tenant_a) -> None:
    department = Department.objects.create(code="lights_dept", name="Lights")
    Category.objects.filter(code="potholes").update(department=department)
    with pytest.raises(ProtectedError):
        department.delete()


def test_a_score_run_keeps_its_snapshots(tenant_a) -> None:
    now = timezone.now()
    run = ScoreRun.objects.create(
        computed_at=now, window_start=now, window_end=now, compliance_weight=0.7, min_resolved=10
    )
    ScoreSnapshot.objects.create(
        run=run, computed_at=now, scope="tenant", reported=1, resolved=1, met=1, open_count=0
    )
    with pytest.raises(ProtectedError):
        run.delete()
    assert ScoreSnapshot.objects.filter(run=run).count() == 1


def test_the_console_offers_no_delete_and_says_why(staff) -> None:
    area = AreaFactory(code="riverside")
    department = Department.objects.create(code="parks_x", name="Parks")
    now = timezone.now()
    run = ScoreRun.objects.create(
        computed_at=now, window_start=now, window_end=now, compliance_weight=0.7, min_resolved=10
    )
    for url, obj in (
        ("/admin/issues/area/", area),
        ("/admin/issues/department/", department),
        ("/admin/analytics/scorerun/", run),
    ):
        assert staff.post(f"{url}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
        changelist = staff.get(url)
        actions = (
            [v for v, _ in changelist.context["action_form"].fields["action"].choices]
            if changelist.context.get("action_form")
            else []
        )
        assert "delete_selected" not in actions
        staff.post(url, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
        assert type(obj).objects.filter(pk=obj.pk).exists()
    page = staff.get(f"/admin/issues/area/{area.pk}/change/").content.decode()
    assert "Areas are never deleted" in page and "untick “active”" in page
    assert (
        "Departments are never deleted"
        in staff.get(f"/admin/issues/department/{department.pk}/change/").content.decode()
    )
    assert "cannot be deleted" in staff.get("/admin/analytics/scorerun/").content.decode()


def test_a_retired_area_gets_no_new_issues_and_keeps_its_old_ones(tenant_a) -> None:
    area = AreaFactory(code="retiring", boundary=SQUARE)
    old = IssueFactory(area=area)
    assert area_for_point(39.5, -89.5) == area
    Area.objects.filter(pk=area.pk).update(active=False)
    assert area_for_point(39.5, -89.5) is None
    old.refresh_from_db()
    assert old.area_id == area.pk


def test_a_retired_department_is_routed_no_new_issues(tenant_a) -> None:
    department = Department.objects.create(code="retired_roads", name="Retired roads", active=False)
    potholes = Category.objects.get(code="potholes")
    potholes.department = department
    potholes.save()
    result = issue_group_report(
        text="Pothole on Elm",
        summary="",
        category=potholes,
        severity="medium",
        latitude=39.5,
        longitude=-89.5,
        address_key="",
        at=timezone.now(),
        report_ref="retired",
    )
    assert result.created and result.issue.department_id is None
    Department.objects.filter(pk=department.pk).update(active=True)
    again = issue_group_report(
        text="Streetlight broken far away",
        summary="",
        category=potholes,
        severity="medium",
        latitude=39.9,
        longitude=-89.1,
        address_key="",
        at=timezone.now(),
        report_ref="active",
    )
    assert again.created and again.issue.department_id == department.pk


def test_the_api_lists_retired_areas_and_departments_as_such(client_a, tenant_a) -> None:
    from civicpulse.apikeys.services import api_key_create
    from tests.conftest import api

    AreaFactory(code="gone_area", active=False)
    Department.objects.create(code="gone_dept", name="Gone", active=False)
    reader = api(client_a, api_key_create(name="reader", scopes=["read"])[1])
    areas = {a["code"]: a["active"] for a in reader.get("/api/v1/areas/").json()["results"]}
    departments = {d["code"]: d["active"] for d in reader.get("/api/v1/departments/").json()["results"]}
    assert areas["gone_area"] is False and departments["gone_dept"] is False
