"""The SLA pages of the staff console: the triage list's state, time left and filters;
deadlines and pause/resume on the issue page; editing a policy makes a new version;
the calendar is rebuilt on save; metrics are summed up in a chart and a table."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from analytics.sla.models import (
    BusinessCalendar,
    CalendarInterval,
    IssuePause,
    PauseReason,
    SlaMetric,
    SlaPolicy,
)
from analytics.sla.services.evaluation import sla_evaluate, sla_metrics_recompute
from issues.models import IssueStatus, Severity
from tests.support.factories import IssueFactory

PASSWORD = "pw-sla-console-123456"


@pytest.fixture
def staff_client(client_a, tenant_a):
    get_user_model().objects.create_superuser("slaconsole", "s@example.org", PASSWORD)
    assert (
        client_a.post(
            "/admin/login/?next=/admin/", {"username": "slaconsole", "password": PASSWORD}
        ).status_code
        == 302
    )
    return client_a


def test_triage_list_shows_and_filters_sla_state_and_time_left(staff_client) -> None:
    now = timezone.now()
    # Critical: one business hour to acknowledge; created a month ago, so breached.
    IssueFactory(title="Late one", severity=Severity.CRITICAL, created_at=now - timedelta(days=30))
    IssueFactory(title="Fresh one", severity=Severity.LOW, created_at=now)
    sla_evaluate(now=now)
    page = staff_client.get("/admin/issues/issue/").content.decode()
    assert "Breached" in page and "On track" in page and "time left" in page
    breached = staff_client.get("/admin/issues/issue/", {"sla": "breached"}).content.decode()
    assert "Late one" in breached and "Fresh one" not in breached
    overdue = staff_client.get("/admin/issues/issue/", {"sla_due": "overdue"}).content.decode()
    assert "Late one" in overdue and "Fresh one" not in overdue


def test_issue_page_pauses_and_resumes_the_clock(staff_client) -> None:
    issue = IssueFactory(title="Waiting", severity=Severity.HIGH)
    sla_evaluate()
    page = staff_client.get(f"/admin/issues/issue/{issue.pk}/change/").content.decode()
    assert "Pause the clock" in page and "Acknowledge" in page
    reason = PauseReason.objects.get(code="parts")
    response = staff_client.post(f"/admin/issues/issue/{issue.pk}/sla/pause/", {"pause_reason": reason.pk})
    assert response.status_code == 302
    assert IssuePause.objects.get(issue=issue, ended_at=None).reason == reason
    page = staff_client.get(f"/admin/issues/issue/{issue.pk}/change/").content.decode()
    assert "Resume the clock" in page and "Waiting on parts" in page
    staff_client.post(f"/admin/issues/issue/{issue.pk}/sla/resume/")
    assert not IssuePause.objects.filter(issue=issue, ended_at=None).exists()
    # A second resume is refused with a message, not an error page.
    assert staff_client.post(f"/admin/issues/issue/{issue.pk}/sla/resume/", follow=True).status_code == 200


def test_editing_a_policy_in_the_admin_saves_a_new_version(staff_client) -> None:
    policy = SlaPolicy.objects.get(category=None, severity=Severity.LOW, superseded_at=None)
    response = staff_client.post(
        f"/admin/analytics/slapolicy/{policy.pk}/change/",
        {"acknowledge_hours": "12", "resolve_hours": str(policy.resolve_hours), "clock": "business"},
    )
    assert response.status_code == 302
    current = SlaPolicy.objects.get(category=None, severity=Severity.LOW, superseded_at=None)
    assert (
        current.pk != policy.pk and current.version == policy.version + 1 and current.acknowledge_hours == 12
    )
    assert SlaPolicy.objects.get(pk=policy.pk).acknowledge_hours == policy.acknowledge_hours


def test_saving_the_calendar_rebuilds_its_intervals(staff_client) -> None:
    calendar = BusinessCalendar.objects.get()
    hours = list(calendar.opening_hours.all())
    data = {
        "name": "City hall",
        "opening_hours-TOTAL_FORMS": str(len(hours) + 1),
        "opening_hours-INITIAL_FORMS": str(len(hours)),
        "holidays-TOTAL_FORMS": "1",
        "holidays-INITIAL_FORMS": "0",
        "holidays-0-date": "",
        "holidays-0-name": "",
    }
    for i, h in enumerate(hours):
        data |= {
            f"opening_hours-{i}-id": h.pk,
            f"opening_hours-{i}-calendar": calendar.pk,
            f"opening_hours-{i}-weekday": h.weekday,
            f"opening_hours-{i}-opens": "09:00",
            f"opening_hours-{i}-closes": "17:00",
        }
    n = len(hours)
    data |= {
        f"opening_hours-{n}-weekday": 5,
        f"opening_hours-{n}-opens": "10:00",
        f"opening_hours-{n}-closes": "14:00",
    }
    response = staff_client.post(f"/admin/analytics/businesscalendar/{calendar.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    saturdays = CalendarInterval.objects.filter(start_at__week_day=7).count()  # Django: Saturday is 7
    assert saturdays > 50

    # Overlapping hours on one day are refused.
    data |= {
        f"opening_hours-{n}-weekday": 0,
        f"opening_hours-{n}-opens": "16:00",
        f"opening_hours-{n}-closes": "18:00",
        f"opening_hours-{n}-id": calendar.opening_hours.get(weekday=5).pk,
        f"opening_hours-{n}-calendar": calendar.pk,
        "opening_hours-INITIAL_FORMS": str(n + 1),
    }
    response = staff_client.post(f"/admin/analytics/businesscalendar/{calendar.pk}/change/", data)
    assert response.status_code == 200 and "overlap" in response.content.decode()


def test_metrics_page_has_a_chart_and_a_table(staff_client) -> None:
    now = timezone.now()
    IssueFactory(
        severity=Severity.LOW,
        created_at=now - timedelta(days=3),
        status=IssueStatus.RESOLVED,
        resolved_at=now - timedelta(days=2),
    )
    IssueFactory(
        severity=Severity.CRITICAL,
        created_at=now - timedelta(days=30),
        status=IssueStatus.RESOLVED,
        resolved_at=now - timedelta(days=2),
    )
    assert sla_metrics_recompute() == 2
    assert SlaMetric.objects.filter(resolve_met=False).count() == 1
    page = staff_client.get("/admin/analytics/slametric/").content.decode()
    assert "<svg" in page and "Share met" in page and "50 %" in page


def test_the_issue_admin_is_registered_once_composed_from_the_mixins() -> None:
    """civicpulse/admin.py registers Issue with IssueAdmin and the mixins of the apps that
    add to it; the mixins register nothing themselves."""
    from django.contrib import admin

    from analytics.location_reports.issue_admin import LocationReportIssueAdminMixin
    from analytics.sla.issue_admin import SlaIssueAdminMixin
    from issues.admin import IssueAdmin
    from issues.models import Issue

    composed = type(admin.site._registry[Issue])
    assert composed.__module__ == "civicpulse.admin"
    assert issubclass(composed, IssueAdmin)
    assert issubclass(composed, SlaIssueAdminMixin) and issubclass(composed, LocationReportIssueAdminMixin)
    registered = {type(model_admin) for model_admin in admin.site._registry.values()}
    assert not {SlaIssueAdminMixin, LocationReportIssueAdminMixin, IssueAdmin} & registered
