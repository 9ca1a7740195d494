"""Location accountability reports: an address, a point or an area resolved (or not, with
the reason); the findings of a place with a known history, figure by figure; the PDF's
text carrying those figures; the narrative's number check; stored reports fetched and
their PDF regenerated from the stored JSON; the staff console's button."""

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from analytics.location_reports.models import LocationReport
from analytics.location_reports.narrative import (
    DISCLAIMER,
    deterministic_summary,
    numbers_in_text,
    unsupported_numbers,
)
from analytics.location_reports.services import location_report_create
from analytics.rules.models import Flag, Rule
from analytics.scores.models import ScoreRun, ScoreSnapshot
from analytics.sla.models import IssueSla, SlaPolicy
from civicpulse.core.geo import METRES_PER_DEGREE
from issues.models import IssueStatus
from llm.models import ModelCall
from reports.addresses import normalise_address
from reports.models import ImportBatch, Location, Report
from reports.services.intake import report_submit
from tests.conftest import api
from tests.support.factories import AreaFactory, CategoryFactory, IssueFactory
from tests.support.llm_server import FakeModel
from tests.support.scoring_helpers import resolved_issue

LAT, LON = 40.7440, -74.0324
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
# 30 m north of the location: the same place; 300 m: another one.
NEAR = LAT + 30 / METRES_PER_DEGREE
FAR = LAT + 300 / METRES_PER_DEGREE


def _square(lat: float, lon: float, half: float = 0.01) -> dict:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def history(tenant_a) -> dict:
    """12 Main Street: 4 issues (2 resolved, 1 met and 1 missed; 1 open and breached; 1
    closed), 5 reports over three months, a flag on one issue and one on its area, the
    area scored 82.5 (rank 1 of 2); one issue and one report 300 m away that do not count."""
    downtown = AreaFactory(code="downtown", name="Downtown", boundary=_square(LAT, LON))
    uptown = AreaFactory(code="uptown", name="Uptown", boundary=_square(LAT + 0.05, LON))
    potholes, lights = (
        CategoryFactory(code="potholes", name="Potholes"),
        CategoryFactory(code="lights", name="Lights"),
    )
    location = Location.objects.create(
        address_key=normalise_address("12 Main Street, Hoboken NJ 07030"),
        address="12 Main Street, Hoboken NJ 07030",
        number="12",
        street="main",
        street_type="st",
        latitude=LAT,
        longitude=LON,
    )
    at = {"latitude": LAT, "longitude": LON, "now": NOW}
    met = resolved_issue(
        area=downtown, category=potholes, used=0.5, hours=10, resolved_ago=timedelta(days=60), **at
    )
    missed = resolved_issue(
        area=downtown, category=potholes, used=1.5, hours=40, resolved_ago=timedelta(days=20), **at
    )
    open_issue = IssueFactory(
        area=downtown,
        category=lights,
        status=IssueStatus.OPEN,
        latitude=NEAR,
        longitude=LON,
        created_at=NOW - timedelta(days=10),
    )
    closed = IssueFactory(
        area=downtown,
        category=lights,
        status=IssueStatus.CLOSED,
        latitude=None,
        longitude=None,
        address_key=location.address_key,
        created_at=NOW - timedelta(days=75),
    )
    elsewhere = IssueFactory(
        area=downtown, category=potholes, latitude=FAR, longitude=LON, created_at=NOW - timedelta(days=5)
    )
    IssueSla.objects.create(
        issue=open_issue,
        policy=SlaPolicy.objects.filter(superseded_at=None).first(),
        ack_used=1.2,
        resolve_used=1.1,
        state="breached",
        evaluated_at=NOW,
    )

    def report(issue, when: datetime, **where) -> Report:
        r = report_submit(
            description="Pothole by number 12", submitted_at=when, enqueue=False, **where
        ).report
        Report.objects.filter(pk=r.pk).update(issue=issue)
        return r

    report(met, datetime(2026, 4, 3, 9, tzinfo=UTC), latitude=LAT, longitude=LON)
    report(met, datetime(2026, 4, 4, 9, tzinfo=UTC), address="12 Main St")  # placed by its address
    report(missed, datetime(2026, 5, 20, 9, tzinfo=UTC), latitude=NEAR, longitude=LON)
    report(open_issue, datetime(2026, 6, 5, 9, tzinfo=UTC), latitude=NEAR, longitude=LON)
    report(closed, datetime(2026, 6, 6, 9, tzinfo=UTC), address="12 Main St.")
    report(elsewhere, datetime(2026, 6, 10, 9, tzinfo=UTC), latitude=FAR, longitude=LON)
    # Issue dates follow their reports' months: April (met), May (missed), June (open), March (closed).
    type(met).objects.filter(pk=met.pk).update(created_at=datetime(2026, 4, 3, 9, tzinfo=UTC))
    type(met).objects.filter(pk=missed.pk).update(created_at=datetime(2026, 5, 20, 9, tzinfo=UTC))
    type(met).objects.filter(pk=open_issue.pk).update(created_at=datetime(2026, 6, 5, 9, tzinfo=UTC))
    type(met).objects.filter(pk=closed.pk).update(created_at=datetime(2026, 3, 1, 9, tzinfo=UTC))

    Flag.objects.create(
        rule=Rule.objects.get(code="reopened"),
        rule_version=1,
        params={"count": 1, "days": 30},
        weight=1,
        subject=f"issue:{open_issue.pk}",
        issue=open_issue,
        area=downtown,
        support=3,
        first_seen_at=NOW - timedelta(days=3),
        last_seen_at=NOW,
    )
    Flag.objects.create(
        rule=Rule.objects.get(code="aging_open"),
        rule_version=2,
        params={"count": 5, "days": 30},
        weight=1,
        subject=f"area:{downtown.pk}",
        area=downtown,
        support=7,
        first_seen_at=NOW - timedelta(days=9),
        last_seen_at=NOW,
    )
    Flag.objects.create(
        rule=Rule.objects.get(code="repeat_location"),
        rule_version=1,
        params={},
        weight=1,
        subject=f"issue:{elsewhere.pk}",
        issue=elsewhere,
        area=downtown,
        support=4,
        first_seen_at=NOW,
        last_seen_at=NOW,
    )  # 300 m away: not this place's

    run = ScoreRun.objects.create(
        computed_at=NOW,
        window_start=NOW - timedelta(days=30),
        window_end=NOW,
        compliance_weight=0.7,
        min_resolved=10,
    )
    figures = {"reported": 20, "met": 6, "open_count": 3}
    ScoreSnapshot.objects.create(
        run=run,
        computed_at=NOW,
        scope="area",
        area=downtown,
        resolved=12,
        compliance=0.5,
        score=82.5,
        rank=1,
        **figures,
    )
    ScoreSnapshot.objects.create(
        run=run,
        computed_at=NOW,
        scope="area",
        area=uptown,
        resolved=11,
        compliance=0.4,
        score=61.25,
        rank=2,
        **figures,
    )
    ImportBatch.objects.create(
        source_format="csv",
        file_name="history-2026.csv",
        checksum="0" * 64,
        started_at=NOW - timedelta(days=1),
        finished_at=NOW - timedelta(hours=23),
        rows_loaded=418,
        status="done",
    )
    return {
        "location": location,
        "downtown": downtown,
        "met": met,
        "missed": missed,
        "open": open_issue,
        "closed": closed,
        "elsewhere": elsewhere,
    }


def test_an_address_resolves_through_its_standardised_form(history: dict) -> None:
    report = location_report_create(
        request={"address": "12 MAIN STREET, Hoboken, NJ 07030"}, actor_label="test"
    )
    assert report.resolved and report.location == history["location"]
    assert report.body["subject"]["address_key"] == "12 main st" and report.body["reason"] == ""


def test_a_point_resolves_to_the_nearest_location_within_50_m(history: dict) -> None:
    Location.objects.create(
        address_key="14 main st", address="14 Main St", latitude=LAT + 45 / METRES_PER_DEGREE, longitude=LON
    )
    report = location_report_create(
        request={"latitude": LAT + 10 / METRES_PER_DEGREE, "longitude": LON}, actor_label="test"
    )
    assert report.location == history["location"] and report.body["subject"]["distance_m"] == pytest.approx(
        10, abs=0.2
    )
    nothing = location_report_create(
        request={"latitude": LAT + 60 / METRES_PER_DEGREE, "longitude": LON + 0.001}, actor_label="test"
    )
    assert (
        not nothing.resolved and nothing.body["reason"] == "No known location lies within 50 m of the point."
    )


def test_an_area_resolves_by_its_code(history: dict) -> None:
    report = location_report_create(request={"area": "downtown"}, actor_label="test")
    assert report.resolved and report.area == history["downtown"]
    findings = report.body["findings"]
    # Every issue in the area, the one 300 m away included, and all their reports.
    assert (findings["issues"]["total"], findings["reports"]["total"]) == (5, 6)
    assert sorted(f["rule"] for f in findings["flags"]) == ["aging_open", "reopened", "repeat_location"]
    assert findings["area_score"]["score"] == 82.5


@pytest.mark.parametrize(
    "request_body, reason",
    [
        ({"address": "99 Nowhere Road"}, "No known location has the standardised address '99 nowhere rd'."),
        ({"address": "  ,;  "}, "The address has no words or numbers to match."),
        ({"area": "atlantis"}, "No area has the code 'atlantis'."),
    ],
)
def test_no_match_is_an_answer_with_its_reason(history: dict, request_body: dict, reason: str) -> None:
    report = location_report_create(request=request_body, actor_label="test")
    assert (report.resolved, report.body["reason"], report.body["findings"]) == (False, reason, None)
    assert report.body["narrative"] == f"{reason} {DISCLAIMER}"
    assert LocationReport.objects.filter(pk=report.pk, resolved=False).exists()


def test_the_findings_of_a_place_with_known_history(history: dict) -> None:
    report = location_report_create(request={"address": "12 Main St"}, actor_label="api:test")
    f = report.body["findings"]
    issues = f["issues"]
    assert (issues["total"], issues["open"], issues["resolved"], issues["closed"]) == (4, 1, 2, 1)
    assert issues["by_category"] == [
        {"category": "Lights", "issues": 2},
        {"category": "Potholes", "issues": 2},
    ]
    assert [i["id"] for i in issues["listed"]] == [history[k].pk for k in ("open", "missed", "met", "closed")]
    assert f["reports"] == {"total": 5, "first": "2026-04-03", "last": "2026-06-06"}
    assert f["timeline"] == [
        {"month": "2026-03", "reports": 0, "issues": 1},
        {"month": "2026-04", "reports": 2, "issues": 1},
        {"month": "2026-05", "reports": 1, "issues": 1},
        {"month": "2026-06", "reports": 2, "issues": 1},
    ]
    assert f["sla"] == {
        "resolved_measured": 2,
        "resolve_met": 1,
        "resolve_missed": 1,
        "resolve_met_percent": 50.0,
        "acknowledge_met": 2,
        "median_resolve_hours": 25.0,  # median of 10 and 40 hours
        "open_on_track": 0,
        "open_at_risk": 0,
        "open_breached": 1,
    }
    assert [(x["rule"], x["version"], x["support"], x["subject"]) for x in f["flags"]] == [
        ("aging_open", 2, 7, f"area:{history['downtown'].pk}"),
        ("reopened", 1, 3, f"issue:{history['open'].pk}"),
    ]
    assert f["area_score"] == {
        "area": "Downtown",
        "area_code": "downtown",
        "computed": "2026-06-15",
        "score": 82.5,
        "rank": 1,
        "ranked_areas": 2,
        "resolved_in_window": 12,
        "met_percent": 50.0,
    }
    fresh = f["freshness"]
    assert (fresh["newest_import"]["file"], fresh["newest_import"]["rows_loaded"]) == (
        "history-2026.csv",
        418,
    )
    assert fresh["newest_report"].startswith("2026-06-10") and fresh["newest_report_here"].startswith(
        "2026-06-06"
    )
    # Without a model: the deterministic summary, which cites only the findings' numbers.
    assert report.narrative_source == "deterministic"
    assert report.body["narrative_source"] == {
        "source": "deterministic",
        "why": "no language model is configured",
    }
    assert report.body["narrative"].endswith(DISCLAIMER)
    assert "4 issues on record from 5 reports" in report.body["narrative"]
    assert (
        unsupported_numbers(report.body["narrative"], {"subject": report.body["subject"], "findings": f})
        == []
    )
    assert report.requested_by_label == "api:test" and report.body["id"] == report.pk


def _pdf_text(pdf: bytes) -> str:
    return " ".join(
        " ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )


def test_the_pdf_carries_the_figures_and_is_the_same_when_regenerated(
    history: dict, client_a, api_key_a: str
) -> None:
    from civicpulse.apikeys.services import api_key_create

    creator = api_key_create(name="creator", scopes=["location"])[1]
    created = api(client_a, creator).post("/api/v1/location-reports/", {"address": "12 Main Street"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert created["Location"] == f"/api/v1/location-reports/{body['id']}/"
    response = api(client_a, api_key_a).get(f"/api/v1/location-reports/{body['id']}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content)
    for figure in (
        "12 Main Street, Hoboken NJ 07030",
        "2026-04-03",
        "2026-06-06",
        "history-2026.csv",
        "418",
        "aging_open",
        "reopened",
        "82.5",
        "25.0",
        "50.0",
        "Downtown",
    ):
        assert figure in text, figure
    assert "Issues Open Resolved Closed Reports" in text and "4 1 2 1 5" in text  # the issues table's row
    assert "2 1 1 50.0 2 25.0 0 0 1" in text  # the SLA table's row
    assert "2026-06 2 1" in text  # a month of the timeline

    # The world changes; the stored report and its PDF do not.
    Report.objects.all().delete()
    again = api(client_a, api_key_a).get(f"/api/v1/location-reports/{body['id']}/")
    assert again.status_code == 200 and again.json() == body
    assert (
        _pdf_text(api(client_a, api_key_a).get(f"/api/v1/location-reports/{body['id']}/pdf/").content) == text
    )


def test_the_api_validates_the_request_and_the_scope(history: dict, client_a, tenant_a) -> None:
    from civicpulse.apikeys.services import api_key_create

    read = api(client_a, api_key_create(name="reader", scopes=["read", "location"])[1])
    submit_only = api(client_a, api_key_create(name="submitter", scopes=["submit"])[1])
    assert submit_only.post("/api/v1/location-reports/", {"area": "downtown"}).status_code == 403
    assert api(client_a, None).post("/api/v1/location-reports/", {"area": "downtown"}).status_code == 401
    both = read.post("/api/v1/location-reports/", {"area": "downtown", "address": "12 Main St"})
    assert both.status_code == 400 and both.json()["code"] == "invalid"
    half = read.post("/api/v1/location-reports/", {"latitude": LAT})
    assert half.status_code == 400 and "longitude" in half.json()["fields"]
    point = read.post("/api/v1/location-reports/", {"latitude": LAT, "longitude": LON})
    assert point.status_code == 201 and point.json()["subject"]["address_key"] == "12 main st"
    missing = read.post("/api/v1/location-reports/", {"address": "1 Elsewhere Ave"})
    assert missing.status_code == 201 and missing.json()["resolved"] is False
    assert read.get("/api/v1/location-reports/999999/").status_code == 404
    assert LocationReport.objects.get(pk=point.json()["id"]).requested_by_label == "api:reader"


def test_reports_of_one_tenant_are_unknown_to_another(history: dict, client_b, tenant_pair) -> None:
    from django.db import connection

    from civicpulse.apikeys.services import api_key_create

    report = location_report_create(request={"area": "downtown"}, actor_label="test")
    connection.set_tenant(tenant_pair[1])
    key_b = api_key_create(name="b", scopes=["read"])[1]
    assert api(client_b, key_b).get(f"/api/v1/location-reports/{report.pk}/").status_code == 404


@pytest.fixture
def narrative_model(settings) -> Iterator[FakeModel]:
    server = FakeModel().start()
    settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY = server.url, "test-model", "k"
    settings.LLM_TIMEOUT, settings.LLM_RETRIES, settings.LLM_RETRY_BACKOFF = 2.0, 0, 0.01
    yield server
    server.stop()


def test_a_narrative_citing_only_the_findings_is_kept(history: dict, narrative_model: FakeModel) -> None:
    text = (
        "12 Main Street has 4 issues from 5 reports since 2026-04-03; 1 of 2 resolved issues met its target "
        "(50.0%), and Downtown scores 82.5, rank 1."
    )
    narrative_model.answer = lambda request: {"narrative": text}
    report = location_report_create(request={"address": "12 Main St"}, actor_label="test")
    assert report.body["narrative"] == f"{text} {DISCLAIMER}"
    assert report.body["narrative_source"] == {"source": "model", "why": "written by test-model"}
    sent = narrative_model.requests[-1]
    assert sent["temperature"] == 0 and json.loads(sent["messages"][1]["content"]) == {
        "subject": report.body["subject"],
        "findings": report.body["findings"],
    }
    call = ModelCall.objects.get()
    assert (call.purpose, call.outcome) == ("narrative", "ok")


@pytest.mark.parametrize(
    "invented, cited",
    [
        ("12 Main Street has 4 issues, 987654 of them still open.", "987654"),
        ("Resolution took 26.5 hours at the median.", "26.5"),
        ("Compliance was 71.3% here.", "71.3"),
        ("The area had 1,234,567 reports.", "1234567"),
        ("Three issues remain.", "three"),
    ],
)
def test_a_narrative_with_an_invented_number_is_replaced(
    history: dict,
    narrative_model: FakeModel,
    invented: str,
    cited: str,
) -> None:
    narrative_model.answer = lambda request: {"narrative": invented}
    report = location_report_create(request={"address": "12 Main St"}, actor_label="test")
    facts = {"subject": report.body["subject"], "findings": report.body["findings"]}
    assert report.body["narrative"] == f"{deterministic_summary(facts)} {DISCLAIMER}"
    assert report.narrative_source == "deterministic"
    assert (
        report.body["narrative_source"]["why"]
        == f"the model's narrative cited numbers not in the findings: {cited}"
    )


def test_a_model_fault_falls_back_to_the_deterministic_summary(
    history: dict, narrative_model: FakeModel
) -> None:
    narrative_model.mode = "500"
    report = location_report_create(request={"address": "12 Main St"}, actor_label="test")
    assert report.narrative_source == "deterministic"
    assert report.body["narrative_source"]["why"].startswith("model fault: server_error")
    assert ModelCall.objects.get().purpose == "narrative"


def test_number_tokens_are_normalised_and_times_of_day_are_not_figures() -> None:
    assert numbers_in_text("1,234.50% of 03 and 7.") == ["1234.5", "3", "7"]
    facts = {"when": "2026-06-05T09:41:00+00:00", "n": 1234.5, "share": -0.25}
    assert unsupported_numbers("On 2026-06-05, 1,234.5 and 0.25", facts) == []
    assert unsupported_numbers("at 09:41", facts) == ["9", "41"]


def test_staff_generate_a_report_from_an_issue_page(history: dict, client_a) -> None:
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("lr-staff", "lr@example.org", "pw-location-report-123")
    assert (
        client_a.post(
            "/admin/login/?next=/admin/", {"username": "lr-staff", "password": "pw-location-report-123"}
        ).status_code
        == 302
    )
    page = client_a.get(f"/admin/issues/issue/{history['open'].pk}/change/")
    assert page.status_code == 200 and b"Location report" in page.content
    response = client_a.post(f"/admin/issues/issue/{history['open'].pk}/location-report/")
    report = LocationReport.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/admin/analytics/locationreport/{report.pk}/change/"
    )
    assert report.location == history["location"] and report.requested_by == staff
    detail = client_a.get(response["Location"])
    assert detail.status_code == 200 and b"4 issues on record" in detail.content
    pdf = client_a.get(f"/admin/analytics/locationreport/{report.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "12 Main Street, Hoboken NJ 07030" in _pdf_text(pdf.content)
    assert client_a.get("/admin/analytics/locationreport/").status_code == 200


def test_an_issue_finds_its_location_by_its_address_its_reports_or_its_point(history: dict, client_a) -> None:
    from django.contrib.auth import get_user_model

    from analytics.location_reports.places import location_of_issue

    location = history["location"]
    assert location_of_issue(issue=history["closed"]) == location  # its own address, no point
    by_report = IssueFactory(latitude=None, longitude=None, address_key="")
    placed = report_submit(description="Light out by number 12", address="12 Main St", enqueue=False).report
    Report.objects.filter(pk=placed.pk).update(issue=by_report)
    assert location_of_issue(issue=by_report) == location  # a report's address
    assert location_of_issue(issue=history["open"]) == location  # its point, 30 m away
    nowhere = IssueFactory(latitude=LAT + 0.2, longitude=LON, address_key="")
    assert location_of_issue(issue=nowhere) is None

    get_user_model().objects.create_superuser("lr-none", "none@example.org", "pw-location-report-123")
    client_a.post("/admin/login/?next=/admin/", {"username": "lr-none", "password": "pw-location-report-123"})
    response = client_a.post(f"/admin/issues/issue/{nowhere.pk}/location-report/", follow=True)
    assert b"This issue has no known location" in response.content and not LocationReport.objects.exists()
