""" "Me too": a resident who recognises their problem in "already reported near here?"
sends their report as a report of that issue. Intake checks the choice (open, published,
close by); the pipeline's grouping honours it instead of scoring candidates and records
that the resident chose; a choice closed meanwhile falls back to ordinary grouping."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from issues.match_score import explain_match
from issues.models import Issue, IssueEvent
from issues.services.workflow import issue_transition
from reports.models import Report
from reports.notifications import confirmation_token, report_confirm_email
from reports.services.chosen_issue import CHOSEN_ISSUE_MAX_M
from reports.services.intake import report_submit
from reports.services.pipeline import report_process
from tenants.models import Tenant

LAT, LON = 39.8000, -89.6400
M = 1 / 111_319.0  # degrees of latitude in a metre, about


def processed(**kwargs) -> Report:
    report = report_submit(**kwargs).report
    report_process(report_id=report.pk)
    return Report.objects.select_related("issue").get(pk=report.pk)


@pytest.fixture
def lamp_issue(tenant_a) -> Issue:
    first = processed(
        description="Street light out on Elm Street, the corner is dark", latitude=LAT, longitude=LON
    )
    return first.issue


# 150 m away (beyond the 50 m grouping distance) and in other words: grouping alone
# would open an issue of its own.
ME_TOO = {"description": "Bins overflowing by the bus stop", "latitude": LAT + 150 * M, "longitude": LON}


def test_without_a_choice_the_report_opens_its_own_issue(lamp_issue) -> None:
    report = processed(**ME_TOO)
    assert report.issue_id != lamp_issue.pk and report.match["method"] == "new"


def test_me_too_joins_the_chosen_issue_and_records_the_choice(lamp_issue) -> None:
    report = processed(**ME_TOO, chosen_issue_id=lamp_issue.pk)
    assert report.chosen_issue_id == lamp_issue.pk
    assert report.issue_id == lamp_issue.pk and report.status == "processed"
    assert report.match == {
        "method": "resident",
        "chosen_by": "resident",
        "issue": lamp_issue.pk,
        "distance_m": 150.0,
    }
    assert report.category is not None  # still classified
    lamp_issue.refresh_from_db()
    assert lamp_issue.report_count == 2
    linked = IssueEvent.objects.get(issue=lamp_issue, kind=IssueEvent.Kind.REPORT_LINKED)
    assert linked.data["report"] == report.tracking_id
    assert linked.data["method"] == "resident" and linked.data["chosen_by"] == "resident"
    assert explain_match(report.match) == "chosen by the resident (“Me too”), 150.0 m from the issue"
    # Processing again changes nothing.
    report_process(report_id=report.pk)
    lamp_issue.refresh_from_db()
    assert lamp_issue.report_count == 2


def test_a_choice_closed_meanwhile_falls_back_to_ordinary_grouping(lamp_issue) -> None:
    report = report_submit(**ME_TOO, chosen_issue_id=lamp_issue.pk).report
    issue_transition(issue_id=lamp_issue.pk, to_status="closed")
    report_process(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "processed" and report.issue_id != lamp_issue.pk
    assert report.match["method"] == "new"
    assert report.match["chosen"] == {"issue": lamp_issue.pk, "closed_meanwhile": True}
    assert explain_match(report.match).startswith(
        f"the resident chose #{lamp_issue.pk}, closed meanwhile; opened"
    )
    lamp_issue.refresh_from_db()
    assert lamp_issue.report_count == 1
    # The same words where the open issue is: ordinary grouping still finds it.
    near = report_submit(
        description="Street light out on Elm Street, the corner is dark again",
        latitude=LAT,
        longitude=LON,
    ).report
    issue_transition(issue_id=lamp_issue.pk, to_status="open")
    report_process(report_id=near.pk)
    near.refresh_from_db()
    assert near.issue_id == lamp_issue.pk and near.match["method"] == "geo"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"latitude": LAT + (CHOSEN_ISSUE_MAX_M + 20) * M}, "more than 500 m"),
        ({"latitude": None, "longitude": None, "address": "12 Nowhere Lane"}, "Choose the place on the map"),
        ({"chosen_issue_id": 987654}, "cannot be found"),
    ],
)
def test_intake_refuses_a_choice_it_cannot_honour(lamp_issue, change, message) -> None:
    with pytest.raises(ValidationError) as refused:
        report_submit(**{**ME_TOO, "chosen_issue_id": lamp_issue.pk, **change})
    assert set(refused.value.message_dict) == {"chosen_issue"}
    assert message in refused.value.message_dict["chosen_issue"][0]
    assert not Report.objects.filter(description=ME_TOO["description"]).exists()


def test_intake_refuses_a_closed_issue(lamp_issue) -> None:
    issue_transition(issue_id=lamp_issue.pk, to_status="resolved")
    with pytest.raises(ValidationError) as refused:
        report_submit(**ME_TOO, chosen_issue_id=lamp_issue.pk)
    assert "closed" in refused.value.message_dict["chosen_issue"][0]


def test_intake_refuses_a_choice_where_issues_are_not_public(tenant_b, monkeypatch) -> None:
    issue = processed(description="Lift stuck on floor 3", latitude=LAT, longitude=LON).issue
    with pytest.raises(ValidationError) as refused:
        report_submit(description="Lift again", latitude=LAT, longitude=LON, chosen_issue_id=issue.pk)
    assert "does not publish" in refused.value.message_dict["chosen_issue"][0]
    Tenant.objects.filter(pk=tenant_b.pk).update(open311_public_reads=True)  # rolled back after the test
    monkeypatch.setattr(tenant_b, "open311_public_reads", True)  # the session's object, given back
    assert report_submit(
        description="Lift again", latitude=LAT, longitude=LON, chosen_issue_id=issue.pk
    ).created


def test_the_form_sends_the_choice_and_shows_a_refusal(client_a, lamp_issue) -> None:
    form = {**ME_TOO, "chosen_issue": str(lamp_issue.pk)}
    sent = client_a.post("/report/", form, REMOTE_ADDR="10.7.0.1")
    assert sent.status_code == 302 and "/track/" in sent["Location"]
    report = Report.objects.get(description=ME_TOO["description"])
    assert report.chosen_issue_id == lamp_issue.pk and report.channel == "web"

    issue_transition(issue_id=lamp_issue.pk, to_status="closed")
    refused = client_a.post("/report/", {**form, "description": "Still dark"}, REMOTE_ADDR="10.7.0.2")
    html = refused.content.decode()
    assert refused.status_code == 400 and "has been closed since" in html and "data-chosen-refused" in html
    assert not Report.objects.filter(description="Still dark").exists()


def test_the_reporter_hears_about_the_chosen_issue(
    lamp_issue, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    from reports.tasks import notify_event

    monkeypatch.setattr(notify_event, "apply_async", lambda args, **kw: notify_event.run(*args))
    report = processed(**ME_TOO, chosen_issue_id=lamp_issue.pk, email="metoo@example.org")
    assert report_confirm_email(
        tracking_id=report.tracking_id, token=confirmation_token(report.tracking_id, "metoo@example.org")
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        issue_transition(issue_id=lamp_issue.pk, to_status="in_progress")
    assert [m.to for m in mail.outbox] == [["metoo@example.org"]]
    assert "in progress" in mail.outbox[0].body
