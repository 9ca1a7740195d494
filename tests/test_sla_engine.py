"""The SLA engine end to end in tenant A (America/Chicago, Monday to Friday 9-17):
evaluation passes, threshold events recorded once, notifications at 75 % and at breach,
pauses, calendar-hour policies, versioned policies and metrics, the recompute command."""

from datetime import datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command

from analytics.sla.models import IssueSla, PauseReason, SlaCrossing, SlaMetric, SlaPolicy
from analytics.sla.services.evaluation import sla_evaluate
from analytics.sla.services.pauses import issue_pause, issue_resume
from analytics.sla.services.policies import sla_policy_revise
from issues.models import Department, IssueEvent, IssueStatus, Severity
from issues.services.workflow import issue_transition
from tests.support.factories import IssueFactory, UserFactory

CHICAGO = ZoneInfo("America/Chicago")
HOUR = 3600


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CHICAGO)


@pytest.fixture
def deliver(monkeypatch):
    """Run the notification task in-process when the pass commits (the worker would)."""
    from analytics.sla.tasks import notify_sla

    monkeypatch.setattr(notify_sla, "apply_async", lambda *a, **kw: notify_sla.run())


def _evaluate(now: datetime, capture) -> None:
    with capture(execute=True):
        sla_evaluate(now=now)


def sla_events(issue) -> list[tuple[str, str, int]]:
    return [
        (e.kind, e.data["target"], e.data["threshold"])
        for e in IssueEvent.objects.filter(
            issue=issue, kind__in=[IssueEvent.Kind.SLA_AT_RISK, IssueEvent.Kind.SLA_BREACHED]
        ).order_by("id")
    ]


def test_thresholds_are_recorded_once_and_told_at_75_and_at_breach(
    tenant_a, deliver, django_capture_on_commit_callbacks
) -> None:
    ann = UserFactory(username="ann", email="ann@example.org")
    # High severity: acknowledge within 4 business hours. Created Monday 9:00.
    issue = IssueFactory(severity=Severity.HIGH, created_at=at(2026, 5, 4, 9), assignee=ann)

    _evaluate(at(2026, 5, 4, 10), django_capture_on_commit_callbacks)
    state = IssueSla.objects.get(issue=issue)
    assert state.state == "on_track" and state.ack_used == pytest.approx(0.25)
    assert state.ack_due_at == at(2026, 5, 4, 13) and state.next_due_at == at(2026, 5, 4, 13)
    assert sla_events(issue) == [] and mail.outbox == []

    _evaluate(at(2026, 5, 4, 11), django_capture_on_commit_callbacks)
    _evaluate(at(2026, 5, 4, 11, 30), django_capture_on_commit_callbacks)  # twice: nothing new
    assert IssueSla.objects.get(issue=issue).state == "at_risk"
    assert sla_events(issue) == [("sla_at_risk", "acknowledge", 50)]
    assert mail.outbox == []  # 50 % is shown, not sent

    _evaluate(at(2026, 5, 4, 12), django_capture_on_commit_callbacks)
    _evaluate(at(2026, 5, 4, 12, 5), django_capture_on_commit_callbacks)
    assert sla_events(issue)[-1] == ("sla_at_risk", "acknowledge", 75)
    assert [m.to for m in mail.outbox] == [["ann@example.org"]]
    assert f"#{issue.pk}" in mail.outbox[0].body and "75% of the target used" in mail.outbox[0].body

    _evaluate(at(2026, 5, 4, 13, 30), django_capture_on_commit_callbacks)
    _evaluate(at(2026, 5, 4, 14), django_capture_on_commit_callbacks)
    assert IssueSla.objects.get(issue=issue).state == "breached"
    assert sla_events(issue) == [
        ("sla_at_risk", "acknowledge", 50),
        ("sla_at_risk", "acknowledge", 75),
        ("sla_breached", "acknowledge", 100),
    ]
    assert len(mail.outbox) == 2 and "breached" in mail.outbox[1].subject
    crossing = SlaCrossing.objects.get(issue=issue, threshold=100)
    assert crossing.crossed_at == at(2026, 5, 4, 13) and crossing.event.kind == "sla_breached"


def test_a_first_pass_finding_a_breach_records_every_threshold_but_tells_once(
    tenant_a, deliver, django_capture_on_commit_callbacks
) -> None:
    roads = Department.objects.create(code="roads_sla", name="Roads", email="roads@example.org")
    issue = IssueFactory(severity=Severity.HIGH, created_at=at(2026, 5, 4, 9), department=roads)
    _evaluate(at(2026, 5, 5, 9), django_capture_on_commit_callbacks)
    assert [t for _, target, t in sla_events(issue) if target == "acknowledge"] == [50, 75, 100]
    # The department hears it, once, and only about the breach.
    assert [m.to for m in mail.outbox] == [["roads@example.org"]]
    assert "target breached" in mail.outbox[0].body and "75%" not in mail.outbox[0].body


def test_old_news_is_recorded_but_not_mailed(tenant_a, deliver, django_capture_on_commit_callbacks) -> None:
    """Imported history, or a tenant's first pass: breaches long past are on the trail,
    not in anyone's inbox."""
    roads = Department.objects.create(code="roads_old", name="Roads", email="roads@example.org")
    issue = IssueFactory(severity=Severity.HIGH, created_at=at(2026, 3, 2, 9), department=roads)
    _evaluate(at(2026, 5, 5, 9), django_capture_on_commit_callbacks)
    assert [t for _, target, t in sla_events(issue) if target == "resolve"] == [50, 75, 100]
    assert mail.outbox == []


def test_a_failed_send_is_retried_without_mailing_anyone_twice(
    tenant_a, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    from analytics.sla.services import notifications

    for code in ("a_dept", "b_dept"):
        department = Department.objects.create(code=code, name=code, email=f"{code}@example.org")
        IssueFactory(severity=Severity.HIGH, created_at=at(2026, 5, 4, 9), department=department)
    _evaluate(at(2026, 5, 4, 13, 30), django_capture_on_commit_callbacks)  # the task is not run here

    real_send = notifications.send_mail

    def flaky(**kwargs: object) -> int:
        if kwargs["recipient_list"] == ["b_dept@example.org"]:
            raise OSError("mail server gone")
        return real_send(**kwargs)

    monkeypatch.setattr(notifications, "send_mail", flaky)
    with pytest.raises(OSError):
        notifications.sla_notify_pending()
    monkeypatch.setattr(notifications, "send_mail", real_send)
    assert notifications.sla_notify_pending() == 1  # the retry: only the one that failed
    assert sorted(m.to[0] for m in mail.outbox) == ["a_dept@example.org", "b_dept@example.org"]


def test_nobody_to_tell_sends_nothing_and_acknowledging_stops_the_first_clock(
    tenant_a, deliver, django_capture_on_commit_callbacks
) -> None:
    issue = IssueFactory(severity=Severity.HIGH, created_at=at(2026, 5, 4, 9))
    issue_transition(issue_id=issue.pk, to_status=IssueStatus.ACKNOWLEDGED, at=at(2026, 5, 4, 10))
    _evaluate(at(2026, 5, 6, 9), django_capture_on_commit_callbacks)
    state = IssueSla.objects.get(issue=issue)
    assert state.ack_used == pytest.approx(0.25)  # frozen at acknowledgement
    # 72 business hours to resolve: nine days of eight hours, ending at Thursday's closing.
    assert state.resolve_due_at == at(2026, 5, 14, 17) and state.next_due_at == state.resolve_due_at
    assert state.resolve_used == pytest.approx(16 / 72)
    assert mail.outbox == []


def test_a_pause_stops_the_clock_and_pushes_the_deadline(
    tenant_a, django_capture_on_commit_callbacks
) -> None:
    staff = UserFactory(username="pauser")
    issue = IssueFactory(severity=Severity.HIGH, created_at=at(2026, 5, 4, 9))
    contractor = PauseReason.objects.get(code="contractor")
    issue_pause(issue_id=issue.pk, reason=contractor, actor=staff, at=at(2026, 5, 4, 10))
    with pytest.raises(ValidationError):
        issue_pause(issue_id=issue.pk, reason=contractor, actor=staff, at=at(2026, 5, 4, 11))

    _evaluate(at(2026, 5, 5, 9, 30), django_capture_on_commit_callbacks)
    state = IssueSla.objects.get(issue=issue)
    assert state.paused and state.ack_used == pytest.approx(0.25)  # one hour before the pause
    assert state.state == "on_track"

    issue_resume(issue_id=issue.pk, actor=staff, at=at(2026, 5, 5, 10))  # 8 business hours paused
    _evaluate(at(2026, 5, 5, 11), django_capture_on_commit_callbacks)
    state = IssueSla.objects.get(issue=issue)
    assert not state.paused and state.paused_seconds == 8 * HOUR
    assert state.ack_used == pytest.approx(0.5)  # 10 business hours elapsed, 8 of them paused
    assert state.ack_due_at == at(2026, 5, 5, 13)  # Monday 9:00 + 4 + 8 business hours
    kinds = list(
        IssueEvent.objects.filter(issue=issue, kind__in=["paused", "resumed"]).values_list("kind", "data")
    )
    assert [k for k, _ in kinds] == ["paused", "resumed"]
    assert kinds[0][1]["reason"] == "contractor" and kinds[1][1]["paused_seconds"] == 24 * HOUR


def test_only_open_issues_pause(tenant_a) -> None:
    issue = IssueFactory(status=IssueStatus.RESOLVED, resolved_at=at(2026, 5, 4, 10))
    with pytest.raises(ValidationError):
        issue_pause(issue_id=issue.pk, reason=PauseReason.objects.get(code="parts"), actor=None)


def test_a_calendar_hour_policy_counts_nights_and_weekends(
    tenant_a, django_capture_on_commit_callbacks
) -> None:
    policy = SlaPolicy.objects.get(category=None, severity=Severity.HIGH, superseded_at=None)
    sla_policy_revise(policy_id=policy.pk, clock="calendar", at=at(2026, 5, 1, 0))
    issue = IssueFactory(severity=Severity.HIGH, created_at=at(2026, 5, 9, 10))  # a Saturday
    _evaluate(at(2026, 5, 9, 12), django_capture_on_commit_callbacks)
    state = IssueSla.objects.get(issue=issue)
    assert state.ack_due_at == at(2026, 5, 9, 14) and state.ack_used == pytest.approx(0.5)
    assert state.policy.version == 2 and state.policy.clock == "calendar"


def test_editing_a_policy_keeps_old_metrics_with_their_version(
    tenant_a, django_capture_on_commit_callbacks
) -> None:
    old_issue = IssueFactory(severity=Severity.HIGH, created_at=at(2026, 5, 4, 9))
    issue_transition(issue_id=old_issue.pk, to_status=IssueStatus.ACKNOWLEDGED, at=at(2026, 5, 4, 12))
    issue_transition(issue_id=old_issue.pk, to_status=IssueStatus.RESOLVED, at=at(2026, 5, 6, 9))
    _evaluate(at(2026, 5, 6, 10), django_capture_on_commit_callbacks)
    metric = SlaMetric.objects.get(issue=old_issue)
    v1 = metric.policy
    assert (metric.ack_seconds, metric.resolve_seconds) == (3 * HOUR, 16 * HOUR)
    assert metric.ack_met and metric.resolve_met and v1.version == 1 and metric.ack_target_seconds == 4 * HOUR

    v2 = sla_policy_revise(policy_id=v1.pk, acknowledge_hours=Decimal("2"), at=at(2026, 5, 7, 0))
    assert v2.version == 2 and SlaPolicy.objects.get(pk=v1.pk).superseded_at == at(2026, 5, 7, 0)
    new_issue = IssueFactory(severity=Severity.HIGH, created_at=at(2026, 5, 11, 9))
    issue_transition(issue_id=new_issue.pk, to_status=IssueStatus.ACKNOWLEDGED, at=at(2026, 5, 11, 12))
    issue_transition(issue_id=new_issue.pk, to_status=IssueStatus.RESOLVED, at=at(2026, 5, 11, 13))

    out = StringIO()
    call_command("recompute_sla", tenant_a.schema_name, "--all", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "metrics: 2"
    old = SlaMetric.objects.get(issue=old_issue)
    assert old.policy_id == v1.pk and old.ack_target_seconds == 4 * HOUR and old.ack_met
    new = SlaMetric.objects.get(issue=new_issue)
    assert new.policy_id == v2.pk and new.ack_target_seconds == 2 * HOUR and not new.ack_met


def test_recompute_for_a_period_touches_only_it(tenant_a) -> None:
    first = IssueFactory(
        severity=Severity.LOW,
        created_at=at(2026, 5, 4, 9),
        status=IssueStatus.RESOLVED,
        resolved_at=at(2026, 5, 5, 9),
    )
    second = IssueFactory(
        severity=Severity.LOW,
        created_at=at(2026, 6, 1, 9),
        status=IssueStatus.RESOLVED,
        resolved_at=at(2026, 6, 2, 9),
    )
    out = StringIO()
    call_command(
        "recompute_sla",
        tenant_a.schema_name,
        "--since",
        "2026-06-01",
        "--until",
        "2026-06-30",
        stdout=out,
        stderr=StringIO(),
    )
    assert out.getvalue().strip() == "metrics: 1"
    assert list(SlaMetric.objects.values_list("issue_id", flat=True)) == [second.pk]
    assert SlaMetric.objects.get(issue=second).resolve_seconds == 8 * HOUR
    assert not SlaMetric.objects.filter(issue=first).exists()


def test_recompute_refuses_unclear_requests(tenant_a) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("recompute_sla", tenant_a.schema_name, stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError):
        call_command("recompute_sla", "no-such-tenant", "--all", stdout=StringIO(), stderr=StringIO())


def test_paused_time_in_metrics_and_reopened_issues_lose_theirs(
    tenant_a, django_capture_on_commit_callbacks
) -> None:
    issue = IssueFactory(severity=Severity.HIGH, created_at=at(2026, 5, 4, 9))
    issue_pause(
        issue_id=issue.pk, reason=PauseReason.objects.get(code="weather"), actor=None, at=at(2026, 5, 4, 13)
    )
    issue_resume(issue_id=issue.pk, actor=None, at=at(2026, 5, 4, 15))
    issue_transition(issue_id=issue.pk, to_status=IssueStatus.RESOLVED, at=at(2026, 5, 4, 17))
    _evaluate(at(2026, 5, 4, 18), django_capture_on_commit_callbacks)
    metric = SlaMetric.objects.get(issue=issue)
    assert metric.paused_seconds == 2 * HOUR and metric.resolve_seconds == 6 * HOUR
    # Resolved without acknowledgement: resolving acknowledged it; the pause counts there too.
    assert metric.ack_seconds == 6 * HOUR and metric.ack_met is False

    issue_transition(issue_id=issue.pk, to_status=IssueStatus.OPEN, at=at(2026, 5, 5, 9))
    _evaluate(at(2026, 5, 5, 10), django_capture_on_commit_callbacks)
    assert not SlaMetric.objects.filter(issue=issue).exists()
    assert IssueSla.objects.filter(issue=issue).exists()


def test_each_tenant_is_evaluated_in_its_own_schema(tenant_b, django_capture_on_commit_callbacks) -> None:
    issue = IssueFactory(
        severity=Severity.CRITICAL, created_at=datetime(2026, 5, 4, 9, tzinfo=ZoneInfo("Europe/London"))
    )
    result = sla_evaluate(now=datetime(2026, 5, 4, 9, 30, tzinfo=ZoneInfo("Europe/London")))
    assert result.evaluated == 1
    assert IssueSla.objects.get(issue=issue).ack_used == pytest.approx(0.5)
