"""Issue workflow: one service for transitions, invalid ones refused, every change an event."""

import pytest
from django.contrib.auth import get_user_model

from issues.models import Issue, IssueEvent
from issues.services.workflow import TransitionError, issue_assign, issue_transition
from tests.support.factories import IssueFactory, UserFactory


@pytest.fixture
def issue(tenant_a) -> Issue:
    return IssueFactory(title="Pothole", latitude=None, longitude=None)


def test_full_lifecycle_stamps_times_and_writes_events(issue) -> None:
    staff = UserFactory(username="triage")
    issue_transition(issue_id=issue.pk, to_status="acknowledged", actor=staff)
    issue_transition(issue_id=issue.pk, to_status="in_progress", actor=staff, note="crew sent")
    issue_transition(issue_id=issue.pk, to_status="resolved", actor=staff)
    issue.refresh_from_db()
    assert issue.status == "resolved"
    assert issue.acknowledged_at <= issue.resolved_at and issue.closed_at is None
    issue_transition(issue_id=issue.pk, to_status="closed", actor=staff)
    issue_transition(issue_id=issue.pk, to_status="open", actor=staff)  # reopen
    issue.refresh_from_db()
    assert issue.status == "open" and issue.resolved_at is None and issue.closed_at is None
    events = list(issue.events.values_list("kind", "data", "actor_label"))
    assert [e[1]["to"] for e in events] == ["acknowledged", "in_progress", "resolved", "closed", "open"]
    assert events[1][1]["note"] == "crew sent" and all(e[2] == "triage" for e in events)


@pytest.mark.parametrize(
    "path, refused",
    [
        ([], "open"),
        (["closed"], "in_progress"),
        (["closed"], "resolved"),
        (["resolved"], "acknowledged"),
        (["acknowledged"], "acknowledged"),
        ([], "archived"),
    ],
)
def test_invalid_transitions_are_refused_with_a_clear_message(issue, path: list[str], refused: str) -> None:
    for status in path:
        issue_transition(issue_id=issue.pk, to_status=status)
    events_before = IssueEvent.objects.count()
    with pytest.raises(TransitionError) as excinfo:
        issue_transition(issue_id=issue.pk, to_status=refused)
    message = excinfo.value.message_dict["status"][0]
    assert "cannot become" in message or "Unknown status" in message
    issue.refresh_from_db()
    assert issue.status == (path[-1] if path else "open")
    assert IssueEvent.objects.count() == events_before


def test_assignment_is_recorded(issue) -> None:
    staff = UserFactory(username="ann")
    issue_assign(issue_id=issue.pk, assignee=staff, actor=staff)
    event = issue.events.get(kind="assigned")
    assert event.data == {"from": None, "to": staff.pk}


def test_events_are_append_only(issue) -> None:
    event = IssueEvent.objects.create(issue=issue, kind="updated")
    event.data = {"tampered": True}
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_admin_bulk_actions_go_through_the_service(client_a, tenant_a, issue) -> None:
    get_user_model().objects.create_superuser("boss", "b@example.org", "pw-boss-123456")
    client_a.post("/admin/login/?next=/admin/", {"username": "boss", "password": "pw-boss-123456"})
    closed = IssueFactory(title="Old", status="closed")
    response = client_a.post(
        "/admin/issues/issue/", {"action": "start", "_selected_action": [issue.pk, closed.pk]}, follow=True
    )
    issue.refresh_from_db()
    closed.refresh_from_db()
    assert issue.status == "in_progress" and issue.events.get().actor.username == "boss"
    assert closed.status == "closed"
    assert "cannot become" in response.content.decode()


def test_admin_edits_go_through_services_and_leave_events(client_a, tenant_a, issue) -> None:
    from issues.models import Category

    boss = get_user_model().objects.create_superuser("editor", "e@example.org", "pw-editor-123456")
    client_a.post("/admin/login/?next=/admin/", {"username": "editor", "password": "pw-editor-123456"})
    potholes = Category.objects.get(code="potholes")
    response = client_a.post(
        f"/admin/issues/issue/{issue.pk}/change/",
        {
            "title": "Pothole on Main",
            "summary": "",
            "category": potholes.pk,
            "severity": "high",
            "area": "",
            "department": "",
            "assignee": boss.pk,
            "events-TOTAL_FORMS": 0,
            "events-INITIAL_FORMS": 0,
            "reports-TOTAL_FORMS": 0,
            "reports-INITIAL_FORMS": 0,
            "notes-TOTAL_FORMS": 0,
            "notes-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    issue.refresh_from_db()
    assert (issue.title, issue.category, issue.severity, issue.assignee) == (
        "Pothole on Main",
        potholes,
        "high",
        boss,
    )
    updated = issue.events.get(kind="updated")
    assert updated.actor == boss
    assert updated.data["changes"] == {
        "title": ["Pothole", "Pothole on Main"],
        "category": [None, "potholes"],
        "severity": ["medium", "high"],
        "department": [None, "public_works"],  # routed by the new category
    }
    assert issue.events.get(kind="assigned").data == {"from": None, "to": boss.pk}
