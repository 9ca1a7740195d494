"""Residents' data: retention (addresses and photos of long-closed issues go, the issue and
its history stay) and erasure of one reporter by staff (recorded as having happened, not
what was erased)."""

import io
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from issues.models import Issue, IssueEvent, IssueStatus
from issues.services.redaction import REDACTED_TEXT
from llm.models import TrainingExample
from reports.models import Erasure, Notification, Report
from reports.services.intake import report_submit
from reports.services.residents_data import months_before, reporter_erase, retention_sweep
from tenants.models import Tenant
from tests.support.factories import IssueFactory

PASSWORD = "pw-erasure-123456"


def _photo() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 30)).save(out, format="JPEG")
    return SimpleUploadedFile("p.jpg", out.getvalue(), content_type="image/jpeg")


def _report(text: str, issue: Issue | None, email: str = "", photo: bool = True) -> Report:
    report = report_submit(
        description=text,
        latitude=39.8,
        longitude=-89.64,
        email=email,
        photo=_photo() if photo else None,
        channel=Report.Channel.WEB,
        enqueue=False,
    ).report
    if issue is not None:
        Report.objects.filter(pk=report.pk).update(issue=issue)
    return Report.objects.get(pk=report.pk)


def _closed_issue(months_ago: int, **kwargs: object) -> Issue:
    closed_at = months_before(timezone.now(), months_ago) - timedelta(days=1)
    return IssueFactory(status=IssueStatus.CLOSED, closed_at=closed_at, resolved_at=closed_at, **kwargs)


@pytest.mark.parametrize(
    "moment, months, expected",
    [
        (datetime(2026, 3, 31, 9, tzinfo=UTC), 1, datetime(2026, 2, 28, 9, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 12, datetime(2025, 1, 15, tzinfo=UTC)),
        (datetime(2024, 3, 30, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2026, 2, 10, tzinfo=UTC), 14, datetime(2024, 12, 10, tzinfo=UTC)),
    ],
)
def test_months_before_counts_calendar_months(moment: datetime, months: int, expected: datetime) -> None:
    assert months_before(moment, months) == expected


def test_retention_clears_addresses_and_photos_of_long_closed_issues_only(
    tenant_a, django_capture_on_commit_callbacks, caplog
) -> None:
    old, recent, open_issue = _closed_issue(13), _closed_issue(6), IssueFactory()
    gone = _report("Old pothole", old, email="old@example.org")
    kept_recent = _report("Recent pothole", recent, email="recent@example.org")
    kept_open = _report("Open pothole", open_issue, email="open@example.org")
    unlinked = _report("Not processed yet", None, email="new@example.org")
    old_file = Path(gone.photo.path)
    assert old_file.exists()
    Notification.objects.create(event_id=1, email="old@example.org", sent_at=old.closed_at)
    Notification.objects.create(event_id=2, email="recent@example.org", sent_at=recent.closed_at)
    history_before = list(IssueEvent.objects.filter(issue=old).values_list("pk", flat=True))

    with caplog.at_level(logging.INFO, logger="reports.services.residents_data"):
        with django_capture_on_commit_callbacks(execute=True):
            done = retention_sweep(batch=1)
    assert done == {"reports": 1, "photos": 1, "notifications": 1}
    gone.refresh_from_db()
    assert gone.email == "" and not gone.photo and gone.photo_bytes == 0 and not gone.notify
    assert gone.description == "Old pothole" and gone.issue_id == old.pk  # the report and its issue stay
    assert not old_file.exists()
    assert list(IssueEvent.objects.filter(issue=old).values_list("pk", flat=True)) == history_before
    for report in (kept_recent, kept_open, unlinked):
        report.refresh_from_db()
        assert report.email and report.photo and Path(report.photo.path).exists()
    assert list(Notification.objects.values_list("email", flat=True)) == ["recent@example.org"]
    messages = [r.getMessage() for r in caplog.records]
    assert "resident data retention progress" in messages and "resident data retention finished" in messages
    # Idempotent: nothing is left to clear.
    assert retention_sweep()["reports"] == 0


def test_retention_follows_the_tenant_setting(tenant_a) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(resident_data_retention_months=24)
    tenant_a.refresh_from_db()
    report = _report("Old pothole", _closed_issue(13), email="old@example.org")
    assert retention_sweep()["reports"] == 0
    report.refresh_from_db()
    assert report.email == "old@example.org"


def test_retention_runs_daily_in_every_tenant(tenant_a) -> None:
    from reports.tasks import sweep_retention

    entry = settings.CELERY_BEAT_SCHEDULE["reports-retention-sweep"]
    assert entry["schedule"] == 86400.0 and "tenant_schemas" not in entry  # no schema: every tenant
    assert entry["task"] == sweep_retention.name
    assert sweep_retention() == {"reports": 0, "photos": 0, "notifications": 0}


def test_erasure_removes_addresses_and_photos_keeps_text_and_records_only_that_it_happened(
    tenant_a, django_capture_on_commit_callbacks
) -> None:
    first, second = IssueFactory(), IssueFactory()
    mine = [
        _report("Pothole by my house", first, email="Me@Example.org"),
        _report("Broken lamp", second, email="me@example.org"),
        _report("Not yet processed", None, email="me@example.org", photo=False),
    ]
    other = _report("Someone else", first, email="other@example.org")
    files = [Path(r.photo.path) for r in mine if r.photo]
    Notification.objects.create(event_id=7, email="me@example.org")
    staff = get_user_model().objects.create_user("eraser", password=PASSWORD, is_staff=True)

    with django_capture_on_commit_callbacks(execute=True):
        erasure = reporter_erase(email=" ME@example.org ", redact_text=False, actor=staff)
    assert (erasure.reports, erasure.photos, erasure.text_redacted, erasure.actor) == (3, 2, False, staff)
    for report in mine:
        report.refresh_from_db()
        assert report.email == "" and not report.photo and report.photo_bytes == 0
    assert [r.description for r in mine] == ["Pothole by my house", "Broken lamp", "Not yet processed"]
    assert not any(path.exists() for path in files)
    other.refresh_from_db()
    assert other.email == "other@example.org" and Path(other.photo.path).exists()
    assert not Notification.objects.filter(email__iexact="me@example.org").exists()
    events = IssueEvent.objects.filter(kind=IssueEvent.Kind.REPORTER_DATA_ERASED).order_by("issue_id")
    assert [(e.issue_id, e.data, e.actor_id) for e in events] == [
        (first.pk, {"reports": 1, "text_redacted": False}, staff.pk),
        (second.pk, {"reports": 1, "text_redacted": False}, staff.pk),
    ]
    # What was erased is written nowhere: neither the address nor the text.
    assert "example.org" not in str(list(Erasure.objects.values())) + str([e.data for e in events])


def test_erasure_can_redact_the_words_too(tenant_a) -> None:
    issue = IssueFactory(title="Pothole by my house", text="Pothole by my house", summary="")
    mine = _report("Pothole by my house", issue, email="me@example.org")
    TrainingExample.objects.create(ref=mine.tracking_id, text=mine.description, category="potholes")
    reporter_erase(email="me@example.org", redact_text=True, actor=None)
    mine.refresh_from_db()
    issue.refresh_from_db()
    assert mine.description == REDACTED_TEXT and mine.summary == "" and mine.attributes == {}
    assert issue.text == REDACTED_TEXT and "Pothole by my house" not in issue.title
    assert not TrainingExample.objects.filter(ref=mine.tracking_id).exists()
    assert IssueEvent.objects.get(kind="reporter_data_erased").data == {"reports": 1, "text_redacted": True}


def _signed_in(client, username: str, *permissions: str):
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="reports", codename__in=permissions)
    )
    assert client.post("/admin/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_staff_erase_from_the_console_with_the_permission(client_a, tenant_a) -> None:
    report = _report("Pothole", IssueFactory(), email="me@example.org")
    staff = _signed_in(client_a, "eraser", "add_erasure", "view_erasure")
    assert staff.get("/admin/reports/erasure/add/").status_code == 200
    unconfirmed = staff.post("/admin/reports/erasure/add/", {"email": "me@example.org"})
    assert unconfirmed.status_code == 200 and Erasure.objects.count() == 0
    response = staff.post(
        "/admin/reports/erasure/add/", {"email": "me@example.org", "confirm": "on"}, follow=True
    )
    assert "Erased: 1 report(s) lost the address, 1 photo(s) deleted." in response.content.decode()
    report.refresh_from_db()
    assert report.email == "" and Erasure.objects.get().actor.username == "eraser"


def test_staff_without_the_permission_cannot_erase(client_a, tenant_a) -> None:
    report = _report("Pothole", IssueFactory(), email="me@example.org")
    viewer = _signed_in(client_a, "viewer", "view_erasure", "view_report")
    assert viewer.get("/admin/reports/erasure/").status_code == 200
    assert (
        viewer.post("/admin/reports/erasure/add/", {"email": "me@example.org", "confirm": "on"}).status_code
        == 403
    )
    report.refresh_from_db()
    assert report.email == "me@example.org" and Erasure.objects.count() == 0
