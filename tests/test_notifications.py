"""Residents who left an email hear about each status change and public note, once, with
a one-click way out; internal notes never leave the building."""

import re

import pytest
from django.core import mail
from django.utils import timezone

from issues.services.workflow import issue_note_add, issue_transition
from reports.models import Report
from reports.notifications import confirmation_token, notify_issue_event, report_confirm_email
from reports.services.intake import report_submit
from reports.services.pipeline import report_process
from tests.support.factories import UserFactory


@pytest.fixture
def issue_with_reporters(tenant_a):
    reports = []
    for text, email in [
        ("Street light out on Elm Street", "ann@example.org"),
        ("Street light out on Elm Street again", "BOB@example.org"),
        ("Street light still out on Elm Street", "ann@example.org"),  # the same person twice
        ("Street light out on Elm Street corner", ""),
    ]:
        report = report_submit(description=text, latitude=39.8, longitude=-89.64, email=email).report
        report_process(report_id=report.pk)
        if email:  # double opt-in: each reporter followed the confirmation link
            assert report_confirm_email(
                tracking_id=report.tracking_id, token=confirmation_token(report.tracking_id, email)
            )
        reports.append(Report.objects.get(pk=report.pk))
    assert len({r.issue_id for r in reports}) == 1
    return reports


@pytest.fixture
def deliver(monkeypatch):
    """Run the notification task in-process when the change commits (the worker would)."""
    from reports.tasks import notify_event

    monkeypatch.setattr(notify_event, "apply_async", lambda args, **kw: notify_event.run(*args))


def test_each_status_change_is_told_once_per_address(
    issue_with_reporters, deliver, django_capture_on_commit_callbacks
) -> None:
    issue_id = issue_with_reporters[0].issue_id
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue_id=issue_id, to_status="in_progress")
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.org", "bob@example.org"]
    message = mail.outbox[0]
    assert "now in progress" in message.body
    assert re.search(r"http://alpha\.localhost:8000/track/[0-9A-Z]{10}/", message.body)
    # Running the task again for the same change sends nothing more.
    event_id = issue_with_reporters[0].issue.events.get(kind="status_changed").pk
    assert notify_issue_event(event_id=event_id) == 0
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue_id=issue_id, to_status="resolved")
    assert len(mail.outbox) == 4


def test_public_notes_are_sent_and_internal_ones_are_not(
    issue_with_reporters, deliver, django_capture_on_commit_callbacks
) -> None:
    issue_id = issue_with_reporters[0].issue_id
    staff = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        issue_note_add(
            issue_id=issue_id, body="Budget code 44-B, do not share.", visibility="internal", author=staff
        )
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        issue_note_add(
            issue_id=issue_id, body="A crew fixes it on Tuesday.", visibility="public", author=staff
        )
    assert len(mail.outbox) == 2 and all("A crew fixes it on Tuesday." in m.body for m in mail.outbox)
    assert not any("44-B" in m.body for m in mail.outbox)


def test_unsubscribing_stops_the_emails(
    issue_with_reporters, deliver, client_a, django_capture_on_commit_callbacks
) -> None:
    issue_id = issue_with_reporters[0].issue_id
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue_id=issue_id, to_status="acknowledged")
    ann = next(m for m in mail.outbox if m.to == ["ann@example.org"])
    link = re.search(r"http://alpha\.localhost:8000(/track/\S+/unsubscribe/\S+)", ann.body).group(1)
    assert client_a.get(link.replace(link[-4:], "0000")).status_code == 404  # a forged token does nothing
    assert client_a.post(link.replace(link[-4:], "0000")).status_code == 404
    # Opening the link (as mail scanners do) only asks; the button unsubscribes.
    asked = client_a.get(link)
    assert asked.status_code == 200 and b"Stop the emails" in asked.content
    assert Report.objects.filter(issue_id=issue_id, email="ann@example.org", notify=True).exists()
    page = client_a.post(link)
    assert page.status_code == 200 and b"no more emails" in page.content
    assert not Report.objects.filter(issue_id=issue_id, email="ann@example.org", notify=True).exists()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue_id=issue_id, to_status="resolved")
    assert [m.to for m in mail.outbox] == [["BOB@example.org".lower()]]


def test_a_change_whose_notification_was_never_queued_is_caught_up(
    issue_with_reporters, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from reports.models import PendingNotification
    from reports.notifications import notify_sweep
    from reports.tasks import notify_event

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(notify_event, "apply_async", broker_down)
    issue_id = issue_with_reporters[0].issue_id
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue_id=issue_id, to_status="in_progress")  # the change stands
    assert mail.outbox == []
    # Keyed on the pending marker, not a window: a change hours old is still caught up.
    PendingNotification.objects.update(created_at=timezone.now() - timedelta(hours=3))
    assert notify_sweep() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.org", "bob@example.org"]
    assert notify_sweep() == 0  # nothing is sent twice
    assert not PendingNotification.objects.exists()
