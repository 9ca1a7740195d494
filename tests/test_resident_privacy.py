"""What residents send stays theirs: no public feed lists a tracking id, a photo is public
only once staff approve it, updates go only to an address that confirmed it, tracking ids
and tokens stay out of the logs, and the notification sweep misses nothing however old."""

import io
import json
import logging
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from civicpulse.apikeys.services import api_key_create
from civicpulse.core.logging import ContextFilter, JsonFormatter
from issues.models import IssueEvent
from issues.services.workflow import issue_transition
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.pipeline import report_process

BASE = "/open311/v2"
PASSWORD = "pw-privacy-123456"


def _photo() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 30)).save(out, format="JPEG")
    return SimpleUploadedFile("p.jpg", out.getvalue(), content_type="image/jpeg")


def _report_with_photo(**kwargs: object) -> Report:
    report = report_submit(
        description="Broken swing", latitude=39.8, longitude=-89.64, photo=_photo(), **kwargs
    ).report
    report_process(report_id=report.pk)
    return Report.objects.get(pk=report.pk)


def _login(client, *, superuser: bool = False, perms: tuple[str, ...] = ()) -> None:
    users = get_user_model().objects
    if superuser:
        users.create_superuser("boss", "b@example.org", PASSWORD)
        username = "boss"
    else:
        username = f"clerk{len(perms)}"
        user = users.create_user(username, "c@example.org", PASSWORD, is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    assert (
        client.post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD}).status_code
        == 302
    )


def test_no_public_feed_lists_a_tracking_id(client_a, tenant_a) -> None:
    report = _report_with_photo()
    pages = [
        client_a.get(f"{BASE}/requests.json"),
        client_a.get(f"{BASE}/requests.xml"),
        client_a.get(f"{BASE}/requests.json?extensions=true"),
        client_a.get(f"{BASE}/requests/{report.public_id}.json?extensions=true"),
        client_a.get(f"{BASE}/requests/{report.public_id}.xml"),
        client_a.get("/accountability/"),
    ]
    assert pages[0].json()[0]["service_request_id"] == str(report.public_id)
    for page in pages:
        assert page.status_code == 200
        assert report.tracking_id not in page.content.decode()
    # The tracking id names no request: it is not a service_request_id.
    assert client_a.get(f"{BASE}/requests/{report.tracking_id}.json").status_code == 404
    assert client_a.get(f"{BASE}/requests.json?service_request_id={report.tracking_id}").json() == []


def test_a_photo_is_public_only_once_staff_approve_it(client_a, tenant_a) -> None:
    report = _report_with_photo()
    public = f"/photos/{report.public_id}"
    [shown] = client_a.get(f"{BASE}/requests/{report.public_id}.json").json()
    assert shown["media_url"] is None
    assert client_a.get(public).status_code == 404
    # The reporter's own tracking page shows it (the tracking id is the key), and says so.
    track = client_a.get(f"/track/{report.tracking_id}/").content.decode()
    assert f"/track/{report.tracking_id}/photo" in track and "until staff approve it" in track
    own = client_a.get(f"/track/{report.tracking_id}/photo")
    assert own.status_code == 200 and own["Cache-Control"] == "private, no-store"

    # A view-only member of staff cannot approve it: the action needs approve_photo.
    _login(client_a, perms=("view_report",))
    action = {"action": "approve_photos", "_selected_action": [report.pk]}
    client_a.post("/admin/reports/report/", action)
    assert not Report.objects.get(pk=report.pk).photo_approved
    client_a.logout()

    _login(client_a, perms=("view_report", "change_report", "approve_photo"))
    done = client_a.post("/admin/reports/report/", action, follow=True)
    assert "Approved 1 photo(s)" in done.content.decode()
    assert Report.objects.get(pk=report.pk).photo_approved
    event = IssueEvent.objects.get(issue_id=report.issue_id, kind="report_corrected")
    assert event.data["changes"] == {"photo_approved": [False, True]} and event.actor.username == "clerk3"
    [shown] = client_a.get(f"{BASE}/requests/{report.public_id}.json").json()
    assert shown["media_url"] == f"http://alpha.localhost:8000{public}"  # the tenant's own host
    assert client_a.get(public).status_code == 200

    client_a.post("/admin/reports/report/", {**action, "action": "withdraw_photos"})
    assert client_a.get(public).status_code == 404


def test_the_approval_checkbox_needs_its_permission(client_a, tenant_a) -> None:
    report = _report_with_photo()
    _login(client_a, perms=("view_report", "change_report"))
    page = client_a.get(f"/admin/reports/report/{report.pk}/change/").content.decode()
    assert 'name="photo_approved"' not in page
    client_a.logout()
    _login(client_a, superuser=True)
    page = client_a.get(f"/admin/reports/report/{report.pk}/change/").content.decode()
    assert 'name="photo_approved"' in page


def test_updates_wait_for_the_address_to_be_confirmed(
    client_a, tenant_a, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from reports.tasks import notify_event, send_confirmation

    monkeypatch.setattr(notify_event, "apply_async", lambda args, **kw: notify_event.run(*args))
    monkeypatch.setattr(send_confirmation, "apply_async", lambda args, **kw: send_confirmation.run(*args))
    with django_capture_on_commit_callbacks(execute=True):
        report = report_submit(
            description="Dead tree leaning", latitude=39.8, longitude=-89.64, email="Ann@example.org"
        ).report
    report_process(report_id=report.pk)
    [asked] = mail.outbox
    assert asked.to == ["Ann@example.org"] and "confirm" in asked.body.lower()
    link = re.search(r"http://alpha\.localhost:8000(/track/\S+/confirm/\S+)", asked.body).group(1)
    mail.outbox.clear()

    issue_id = Report.objects.get(pk=report.pk).issue_id
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue_id=issue_id, to_status="acknowledged")
    assert mail.outbox == []  # not confirmed: nothing is sent

    assert client_a.get(link[:-4] + "0000").status_code == 404  # a forged token confirms nothing
    assert client_a.get(link).status_code == 200  # opening the link (a mail scanner) only asks
    assert not Report.objects.get(pk=report.pk).email_confirmed
    assert b"send me updates" in client_a.get(link).content
    assert client_a.post(link).status_code == 200
    assert Report.objects.get(pk=report.pk).email_confirmed
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue_id=issue_id, to_status="in_progress")
    assert [m.to for m in mail.outbox] == [["ann@example.org"]]


def test_a_confirmation_never_queued_is_sent_by_the_sweep(tenant_a, monkeypatch) -> None:
    from reports.notifications import notify_sweep

    report = report_submit(description="Leak", latitude=39.8, longitude=-89.64, email="z@example.org").report
    assert notify_sweep() == 0  # left a moment for the queued message
    Report.objects.filter(pk=report.pk).update(submitted_at=timezone.now() - timedelta(days=2))
    assert notify_sweep() == 1 and mail.outbox[0].to == ["z@example.org"]
    assert notify_sweep() == 0  # sent once


def _log_lines(caplog) -> str:
    handler_filter, formatter = ContextFilter(), JsonFormatter()
    lines = []
    for record in caplog.records:
        handler_filter.filter(record)
        lines.append(formatter.format(record))
    return "\n".join(lines)


def test_tracking_ids_and_tokens_stay_out_of_the_logs(client_a, tenant_a, caplog) -> None:
    from reports.notifications import confirmation_token, unsubscribe_token

    report = report_submit(description="Leak", latitude=39.8, longitude=-89.64, email="y@example.org").report
    stop = unsubscribe_token(report.tracking_id)
    confirm = confirmation_token(report.tracking_id, report.email)
    with caplog.at_level(logging.INFO):
        client_a.get(f"/track/{report.tracking_id}/")
        client_a.get(f"/track/{report.tracking_id}/unsubscribe/{stop}")
        client_a.get(f"/track/{report.tracking_id}/confirm/{confirm}")
        client_a.get(f"/track/?id={report.tracking_id}")
        client_a.get("/track/ZZZZZZZZZZ/")  # 404: Django's own "Not Found" line too
        client_a.get(f"{BASE}/tokens/{report.tracking_id}.json")
        client_a.get(f"/api/v1/reports/{report.tracking_id}/")  # refused without a key, still logged
    text = _log_lines(caplog)
    assert "/track/[redacted]/unsubscribe/[redacted]" in text and "Not Found" in text
    for secret in (report.tracking_id, stop, confirm, "ZZZZZZZZZZ"):
        assert secret not in text

    # gunicorn's access log (off by default) goes through the same filter when switched on.
    from civicpulse import gunicorn_conf

    assert gunicorn_conf.logconfig_dict["loggers"]["gunicorn.access"]["handlers"] == ["console"]
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, '%(h)s "%(r)s" %(s)s', None, None)
    record.args = {"h": "10.0.0.1", "r": f"GET /track/{report.tracking_id}/photo HTTP/1.1", "s": "200"}
    ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))["message"]
    assert line == '10.0.0.1 "GET /track/[redacted]/photo HTTP/1.1" 200'
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, '%(h)s "%(r)s" %(s)s', None, None)
    record.args = {
        "h": "10.0.0.1",
        "r": "GET /open311/v2/requests.json?a=1&api_key=cp_secret HTTP/1.1",
        "s": "200",
    }
    ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))["message"]
    assert "cp_secret" not in line and "api_key=[redacted]" in line


@pytest.mark.parametrize("path", ["services/pot%00holes.json", "requests/ab%00cd.json", "tokens/AB%00CD.xml"])
def test_nul_in_an_open311_path_segment_is_a_400(client_a, tenant_a, path: str) -> None:
    response = client_a.get(f"{BASE}/{path}")
    assert response.status_code == 400


def test_a_read_key_reads_what_the_public_may_not(client_b, tenant_b) -> None:
    """Beta is a hotel: its Open311 reads are not public by default."""
    report = report_submit(
        description="Broken lamp in room 12", latitude=51.501234, longitude=-0.141987
    ).report
    assert client_b.get(f"{BASE}/requests.json").status_code == 403
    assert client_b.get(f"{BASE}/requests/{report.public_id}.json").status_code == 403
    _, submit_only = api_key_create(name="submitter", scopes=["submit"])
    assert client_b.get(f"{BASE}/requests.json?api_key={submit_only}").status_code == 403
    _, reader = api_key_create(name="reader", scopes=["read"])
    [exact] = client_b.get(f"{BASE}/requests.json?api_key={reader}").json()
    assert (exact["lat"], exact["long"]) == (51.501234, -0.141987)
    header = client_b.get(f"{BASE}/requests.json", HTTP_AUTHORIZATION=f"Api-Key {reader}")
    assert header.status_code == 200

    # Opted in: anyone reads, with points rounded to about 100 m; a forged key changes nothing.
    type(tenant_b).objects.filter(pk=tenant_b.pk).update(open311_public_reads=True)
    for extra in ({}, {"HTTP_AUTHORIZATION": "Api-Key forged"}):
        [public] = client_b.get(f"{BASE}/requests.json", **extra).json()
        assert (public["lat"], public["long"]) == (51.501, -0.142)
