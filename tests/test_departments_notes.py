"""Departments route issues; notes are public (residents see them) or internal (never)."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from issues.models import Category, Department, IssueNote
from issues.services.workflow import issue_note_add, issue_update
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.pipeline import report_process
from tests.support.factories import IssueFactory, UserFactory


def _issue_from_report(text: str, category: str | None = None):
    report = report_submit(description=text, latitude=39.8, longitude=-89.64, category_code=category).report
    report_process(report_id=report.pk)
    return Report.objects.select_related("issue__department").get(pk=report.pk)


def test_new_tenants_route_categories_to_departments(tenant_a, tenant_pair) -> None:
    assert Category.objects.get(code="potholes").department.code == "public_works"
    assert not Category.objects.filter(department=None).exists()
    report = _issue_from_report("Deep pothole on the road", "potholes")
    assert report.issue.department.name == "Public Works"


def test_changing_category_reroutes_unless_department_chosen(tenant_a) -> None:
    issue = IssueFactory(
        category=Category.objects.get(code="potholes"), department=Department.objects.get(code="public_works")
    )
    staff = UserFactory()
    issue_update(issue_id=issue.pk, actor=staff, category=Category.objects.get(code="graffiti"))
    issue.refresh_from_db()
    assert issue.department.code == "sanitation"
    assert issue.events.get(kind="updated").data["changes"]["department"] == ["public_works", "sanitation"]
    issue_update(
        issue_id=issue.pk,
        actor=staff,
        category=Category.objects.get(code="noise"),
        department=Department.objects.get(code="parks"),
    )
    issue.refresh_from_db()
    assert issue.department.code == "parks"


def test_my_department_filter(client_a, tenant_a) -> None:
    boss = get_user_model().objects.create_superuser("lead", "l@example.org", "pw-lead-123456")
    parks = Department.objects.get(code="parks")
    parks.members.add(boss)
    mine = IssueFactory(title="Fallen tree on the path", department=parks)
    IssueFactory(title="Pothole somewhere", department=Department.objects.get(code="public_works"))
    client_a.post("/admin/login/?next=/admin/", {"username": "lead", "password": "pw-lead-123456"})
    page = client_a.get("/admin/issues/issue/", {"department_scope": "mine"}).content.decode()
    assert mine.title in page and "Pothole somewhere" not in page


def test_internal_notes_never_reach_residents(client_a, tenant_a) -> None:
    report = _issue_from_report("Street light out on Elm")
    staff = UserFactory()
    issue_note_add(
        issue_id=report.issue_id, body="Crew booked for Tuesday.", visibility="public", author=staff
    )
    issue_note_add(
        issue_id=report.issue_id,
        body="Contractor invoice #991 disputed.",
        visibility="internal",
        author=staff,
    )
    page = client_a.get(f"/track/{report.tracking_id}/").content.decode()
    assert "Crew booked for Tuesday." in page
    assert "invoice" not in page and "991" not in page
    kinds = list(report.issue.events.values_list("kind", "data__visibility"))
    assert ("note_added", "public") in kinds and ("note_added", "internal") in kinds


def test_notes_need_a_body_and_a_known_visibility(tenant_a) -> None:
    issue = IssueFactory()
    with pytest.raises(ValidationError):
        issue_note_add(issue_id=issue.pk, body="   ", visibility="public", author=None)
    with pytest.raises(ValidationError):
        issue_note_add(issue_id=issue.pk, body="x", visibility="secret", author=None)
    assert IssueNote.objects.count() == 0


def test_admin_adds_notes_through_the_service(client_a, tenant_a) -> None:
    get_user_model().objects.create_superuser("noter", "n@example.org", "pw-noter-123456")
    client_a.post("/admin/login/?next=/admin/", {"username": "noter", "password": "pw-noter-123456"})
    issue = IssueFactory(title="Leak")
    response = client_a.post(
        f"/admin/issues/issue/{issue.pk}/change/",
        {
            "title": "Leak",
            "summary": "",
            "category": "",
            "severity": "medium",
            "area": "",
            "department": "",
            "assignee": "",
            "notes-TOTAL_FORMS": 1,
            "notes-INITIAL_FORMS": 0,
            "notes-0-visibility": "public",
            "notes-0-body": "On it.",
            "events-TOTAL_FORMS": 0,
            "events-INITIAL_FORMS": 0,
            "reports-TOTAL_FORMS": 0,
            "reports-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    note = IssueNote.objects.get()
    assert (note.body, note.visibility, note.author.username) == ("On it.", "public", "noter")
    assert issue.events.get(kind="note_added").actor.username == "noter"
