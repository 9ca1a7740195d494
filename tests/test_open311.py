"""Open311 GeoReport v2 under /open311/v2/: every method in XML and JSON with its errors,
jurisdiction routing on the public host, keys and scopes, internal notes never shown."""

import random
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from analytics.sla.services.evaluation import sla_evaluate
from civicpulse.apikeys.services import api_key_create
from issues.models import Issue, IssueNote, IssueStatus
from issues.services.workflow import issue_note_add, issue_transition
from reports.models import Report
from reports.services.pipeline import report_process
from tests.conftest import api
from tests.support.factories import UserFactory

BASE = "/open311/v2"
POTHOLE = {
    "service_code": "potholes",
    "lat": "39.80",
    "long": "-89.64",
    "description": "Deep pothole by the school",
}


@pytest.fixture(autouse=True)
def generous_anonymous_rate(settings) -> None:
    # Each test may read a lot anonymously within one minute; the throttling test lowers it.
    settings.API_ANON_RATE_PER_MINUTE = 100_000


def xml(response) -> ET.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def post(client, body: dict, fmt: str = "json", **extra):
    return client.post(f"{BASE}/requests.{fmt}", body, **extra)


def submit_key() -> str:
    return api_key_create(name="open311", scopes=["submit"])[1]


def test_discovery_in_both_formats(client_a, public_client, tenant_a) -> None:
    body = client_a.get(f"{BASE}/discovery.json").json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://alpha.localhost/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"] and endpoint["type"] == "production"
    root = xml(client_a.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]
    # The public host's discovery needs no jurisdiction.
    assert public_client.get(f"{BASE}/discovery.json").status_code == 200


def test_service_list_json_and_xml(client_a, tenant_a) -> None:
    response = client_a.get(f"{BASE}/services.json")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    services = {s["service_code"]: s for s in response.json()}
    pothole = services["potholes"]
    assert set(pothole) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert (
        pothole["metadata"] is True and pothole["type"] == "realtime" and pothole["group"] == "Public Works"
    )
    assert "pothole" in pothole["keywords"].split(", ")
    assert services["graffiti"]["metadata"] is False
    assert all(isinstance(code, str) for code in services)
    root = xml(client_a.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and {e.tag for e in root} == {"service"}
    first = root.find("service")
    assert [c.tag for c in first] == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    xml_pothole = next(s for s in root if s.findtext("service_code") == "potholes")
    assert xml_pothole.findtext("metadata") == "true"


def test_service_definition_json_xml_and_404(client_a, tenant_a) -> None:
    body = client_a.get(f"{BASE}/services/potholes.json").json()
    assert body["service_code"] == "potholes"
    size = body["attributes"][0]
    assert size["variable"] is True and size["code"] == "size" and size["datatype"] == "singlevaluelist"
    assert size["required"] is False and size["order"] == 1 and size["description"]
    assert {"key": "small", "name": "Smaller than a plate"} in size["values"]
    root = xml(client_a.get(f"{BASE}/services/potholes.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "potholes"
    attribute = root.find("attributes/attribute")
    assert attribute.findtext("required") == "false" and attribute.findtext("variable") == "true"
    assert [v.findtext("key") for v in attribute.find("values")] == ["small", "medium", "large"]

    missing = client_a.get(f"{BASE}/services/no_such.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404 and "no_such" in missing.json()[0]["description"]
    root = xml(client_a.get(f"{BASE}/services/no_such.xml"))
    assert (
        root.tag == "errors" and root.findtext("error/code") == "404" and root.findtext("error/description")
    )


def test_post_flows_through_report_submit_and_is_found_by_get_and_the_drf_api(client_a, tenant_a) -> None:
    key = submit_key()
    response = post(
        client_a, {**POTHOLE, "api_key": key, "email": "r@example.org", "attribute[size]": "large"}
    )
    assert response.status_code == 200, response.content
    [created] = response.json()
    assert set(created) == {"service_request_id", "token", "service_notice", "account_id"}
    request_id = created["service_request_id"]
    report = Report.objects.get(public_id=request_id)
    # The reporter's tracking id comes back as the token, never as the request's id.
    assert created["token"] == report.tracking_id != request_id
    tracking_id = report.tracking_id
    assert report.channel == "open311" and report.status == "received"
    assert report.category.code == "potholes" and report.attributes == {"size": "large"}
    assert report.email == "r@example.org" and report.api_key.name == "open311"

    found = client_a.get(f"{BASE}/requests/{request_id}.json").json()
    assert found[0]["service_request_id"] == request_id and found[0]["status"] == "open"
    assert found[0]["service_code"] == "potholes" and found[0]["lat"] == 39.80
    listed = client_a.get(f"{BASE}/requests.json")
    assert request_id in [r["service_request_id"] for r in listed.json()]
    assert tracking_id not in listed.content.decode()
    assert client_a.get(f"{BASE}/requests/{tracking_id}.json").status_code == 404
    _, reader = api_key_create(name="reader", scopes=["read"])
    drf = api(client_a, reader).get(f"/api/v1/reports/{tracking_id}/")
    assert drf.status_code == 200 and drf.json()["tracking_id"] == tracking_id

    root = xml(post(client_a, {**POTHOLE, "api_key": key}, fmt="xml"))
    assert root.tag == "service_requests" and root.find("request/service_request_id").text


def test_post_with_address_or_address_id(client_a, tenant_a) -> None:
    key = submit_key()
    first = post(client_a, {**POTHOLE, "api_key": key, "address_string": "12 North Main Street"}).json()[0]
    by_address = post(
        client_a,
        {
            "service_code": "graffiti",
            "description": "Tag on wall",
            "address_string": "12 N. Main St",
            "api_key": key,
        },
    )
    assert by_address.status_code == 200
    # One report's point teaches the address nothing (reports.services.locations): the
    # second report of it waits for staff placement.
    placed = Report.objects.get(public_id=by_address.json()[0]["service_request_id"])
    assert placed.latitude is None and placed.needs_placement
    from reports.models import Location

    location = Location.objects.create(
        address="12 N Main St", address_key="12 n main st", latitude=39.8, longitude=-89.64
    )
    assert first["service_request_id"] != by_address.json()[0]["service_request_id"]
    # A raw row id is no public handle: an address_id alone is refused, known or not.
    for address_id in (str(location.pk), "999999"):
        refused = post(
            client_a,
            {"service_code": "graffiti", "description": "x", "address_id": address_id, "api_key": key},
        )
        assert refused.status_code == 400 and "address_id" in refused.json()[0]["description"]
    assert not Report.objects.filter(description="x").exists()
    # Beside an address or a point it is ignored.
    beside = post(
        client_a,
        {**POTHOLE, "address_id": str(location.pk), "address_string": "9 Elm St", "api_key": key},
    )
    assert beside.status_code == 200


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_errors(client_a, tenant_a, fmt: str) -> None:
    def errors(response) -> list[tuple[int, str]]:
        if fmt == "json":
            return [(e["code"], e["description"]) for e in response.json()]
        root = xml(response)
        assert root.tag == "errors"
        return [(int(e.findtext("code")), e.findtext("description")) for e in root]

    key = submit_key()
    _, read_only = api_key_create(name="reader", scopes=["read"])
    cases = [
        ({**POTHOLE}, 403, "api_key"),
        ({**POTHOLE, "api_key": "cp_wrong"}, 403, "api_key"),
        ({**POTHOLE, "api_key": read_only}, 403, "submit"),
        ({**POTHOLE, "api_key": key, "service_code": ""}, 400, "service_code"),
        ({**POTHOLE, "api_key": key, "service_code": "nope"}, 404, "service_code"),
        (
            {"service_code": "potholes", "description": "x", "api_key": key},
            400,
            "lat/long, address_string or address_id",
        ),
        ({**POTHOLE, "api_key": key, "lat": "north"}, 400, "lat"),
        ({**POTHOLE, "api_key": key, "lat": "95"}, 400, "lat"),
        ({**POTHOLE, "api_key": key, "long": ""}, 400, "lat"),
        ({**POTHOLE, "api_key": key, "description": ""}, 400, "description"),
        ({**POTHOLE, "api_key": key, "attribute[size]": "huge"}, 400, "attribute[size]"),
        ({**POTHOLE, "api_key": key, "attribute[colour]": "red"}, 400, "attribute[colour]"),
    ]
    for body, status, words in cases:
        response = post(client_a, body, fmt=fmt)
        assert response.status_code == status, (body, response.content)
        found = errors(response)
        assert found and found[0][0] == status and words in " ".join(d for _, d in found), (body, found)
    assert Report.objects.count() == 0


def test_required_and_multivalue_attributes(client_a, tenant_a) -> None:
    from issues.models import Category

    Category.objects.filter(code="graffiti").update(
        questions=[
            {
                "code": "surfaces",
                "description": "Where is it?",
                "datatype": "multivaluelist",
                "required": True,
                "values": [{"key": "wall", "name": "Wall"}, {"key": "sign", "name": "Sign"}],
            },
        ]
    )
    key = submit_key()
    body = {"service_code": "graffiti", "description": "Tags", "lat": "39.8", "long": "-89.6", "api_key": key}
    missing = post(client_a, body)
    assert missing.status_code == 400 and "attribute[surfaces]" in missing.json()[0]["description"]
    ok = client_a.post(
        f"{BASE}/requests.json",
        "&".join(f"{k}={v}" for k, v in body.items())
        + "&attribute[surfaces][]=wall&attribute[surfaces][]=sign",
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )
    assert ok.status_code == 200, ok.content
    report = Report.objects.get(public_id=ok.json()[0]["service_request_id"])
    assert report.attributes == {"surfaces": ["wall", "sign"]}


def _processed(client, key: str, **extra: str) -> Report:
    request_id = post(client, {**POTHOLE, "api_key": key, **extra}).json()[0]["service_request_id"]
    return report_process(report_id=Report.objects.get(public_id=request_id).pk)


def test_request_shows_status_department_sla_and_only_public_notes(client_a, tenant_a) -> None:
    report = _processed(client_a, submit_key())
    issue = report.issue
    staff = UserFactory()
    issue_note_add(
        issue_id=issue.pk,
        body="Crew booked for Tuesday",
        visibility=IssueNote.Visibility.PUBLIC,
        author=staff,
    )
    issue_note_add(
        issue_id=issue.pk,
        body="Contractor is slow, chase them",
        visibility=IssueNote.Visibility.INTERNAL,
        author=staff,
    )
    sla_evaluate(now=timezone.now())
    body = client_a.get(f"{BASE}/requests/{report.public_id}.json").json()[0]
    assert body["status"] == "open" and body["status_notes"] == "Crew booked for Tuesday"
    assert body["agency_responsible"] == "Public Works" and body["service_name"] == "Potholes"
    assert body["expected_datetime"] is not None
    issue.refresh_from_db()
    assert datetime.fromisoformat(body["expected_datetime"]) == issue.sla.resolve_due_at.replace(
        microsecond=0
    )
    assert body["requested_datetime"].endswith(("-05:00", "-06:00"))  # the tenant's zone, offset included
    assert (
        "chase"
        not in client_a.get(f"{BASE}/requests/{report.public_id}.json?extensions=true").content.decode()
    )
    assert "chase" not in client_a.get(f"{BASE}/requests.xml?extensions=true").content.decode()

    extended = client_a.get(f"{BASE}/requests/{report.public_id}.json?extensions=true").json()[0]
    assert [n["type"] for n in extended["notes"]] == ["submitted", "note"]
    issue_transition(issue_id=issue.pk, to_status=IssueStatus.RESOLVED, note="Filled")
    closed = client_a.get(f"{BASE}/requests/{report.public_id}.json?extensions=true").json()[0]
    assert closed["status"] == "closed" and closed["expected_datetime"] is None
    assert [n["type"] for n in closed["notes"]] == ["submitted", "note", "resolved"]
    root = xml(client_a.get(f"{BASE}/requests/{report.public_id}.xml?extensions=true"))
    request = root.find("request")
    assert request.findtext("status") == "closed"
    assert [n.findtext("type") for n in request.find("notes")] == ["submitted", "note", "resolved"]


def test_get_requests_filters_window_and_paging(client_a, tenant_a) -> None:
    key = submit_key()
    open_report = _processed(client_a, key)
    closed_report = _processed(client_a, key, description="Another hole, far away", lat="39.9", long="-89.9")
    issue_transition(issue_id=closed_report.issue_id, to_status=IssueStatus.CLOSED)
    graffiti = post(client_a, {**POTHOLE, "service_code": "graffiti", "api_key": key}).json()[0][
        "service_request_id"
    ]
    old = post(client_a, {**POTHOLE, "api_key": key}).json()[0]["service_request_id"]
    Report.objects.filter(public_id=old).update(submitted_at=timezone.now() - timedelta(days=120))

    def ids(query: str = "") -> set[str]:
        response = client_a.get(f"{BASE}/requests.json{query}")
        assert response.status_code == 200, response.content
        return {r["service_request_id"] for r in response.json()}

    everything = ids()
    assert old not in everything  # the spec's default window: the most recent 90 days
    assert {str(open_report.public_id), str(closed_report.public_id), graffiti} <= everything
    assert ids("?status=closed") == {str(closed_report.public_id)}
    assert str(closed_report.public_id) not in ids("?status=open")
    assert ids("?status=open,closed") == everything
    assert ids("?service_code=graffiti") == {graffiti}
    assert ids(f"?service_request_id={old},{graffiti}") == {old, graffiti}  # overrides the window
    start = (timezone.now() - timedelta(days=125)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (timezone.now() - timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"?start_date={start}&end_date={end}") == {old}
    assert old in ids(f"?start_date={start}")  # start alone: 90 days from it
    assert len(ids("?page_size=2")) == 2 and len(ids("?page_size=2&page=2")) == 1
    root = xml(client_a.get(f"{BASE}/requests.xml?status=closed"))
    assert root.tag == "service_requests" and root.findtext("request/service_request_id") == str(
        closed_report.public_id
    )

    for query, words in [
        ("?status=pending", "status"),
        ("?start_date=yesterday", "start_date"),
        ("?start_date=2020-01-01T00:00:00", "time zone"),
        (f"?start_date={end}&end_date={start}", "after"),
        ("?start_date=2020-01-01T00:00:00Z&end_date=2020-06-01T00:00:00Z", "90 days"),
        ("?page_size=1001", "page_size"),
        ("?page=0", "page"),
        ("?end_date=0001-01-01T00:00:00Z", "out of range"),
    ]:
        response = client_a.get(f"{BASE}/requests.json{query}")
        assert response.status_code == 400 and words in response.json()[0]["description"], (
            query,
            response.content,
        )
    assert xml(client_a.get(f"{BASE}/requests.xml?status=pending")).findtext("error/code") == "400"
    # An offset PostgreSQL would refuse is taken as the instant it names.
    assert client_a.get(f"{BASE}/requests.json?start_date=1365-10-26T08:06:02-21:55").json() == []


def test_unknown_request_token_and_paths_are_404(client_a, tenant_a) -> None:
    key = submit_key()
    [created] = post(client_a, {**POTHOLE, "api_key": key}).json()
    request_id, tracking_id = created["service_request_id"], created["token"]
    assert client_a.get(f"{BASE}/requests/ZZZZZZZZZZ.json").status_code == 404
    assert xml(client_a.get(f"{BASE}/requests/nope.xml")).findtext("error/code") == "404"
    token = client_a.get(f"{BASE}/tokens/{tracking_id}.json").json()
    assert token == [{"service_request_id": request_id, "token": tracking_id}]
    root = xml(client_a.get(f"{BASE}/tokens/{tracking_id}.xml"))
    assert (
        root.findtext("request/service_request_id") == request_id
        and root.findtext("request/token") == tracking_id
    )
    assert client_a.get(f"{BASE}/tokens/ZZZZZZZZZZ.json").status_code == 404
    assert client_a.get(f"{BASE}/nothing.json").json()[0]["code"] == 404
    assert xml(client_a.get(f"{BASE}/services.csv")).findtext("error/code") == "404"
    not_allowed = client_a.delete(f"{BASE}/services.json")
    assert not_allowed.status_code == 405 and not_allowed["Allow"] == "GET"


def test_public_host_routes_by_jurisdiction_id(public_client, client_a, tenant_pair) -> None:
    alpha, beta = tenant_pair
    with tenant_context(alpha):
        key_a = submit_key()
    with tenant_context(beta):
        key_b = submit_key()
    missing = public_client.get(f"{BASE}/services.json")
    assert missing.status_code == 400 and "jurisdiction_id" in missing.json()[0]["description"]
    assert xml(public_client.get(f"{BASE}/services.xml")).findtext("error/code") == "400"
    unknown = public_client.get(f"{BASE}/services.json?jurisdiction_id=atlantis")
    assert unknown.status_code == 404 and "atlantis" in unknown.json()[0]["description"]
    alpha_codes = {
        s["service_code"] for s in public_client.get(f"{BASE}/services.json?jurisdiction_id=alpha").json()
    }
    beta_codes = {
        s["service_code"]
        for s in public_client.get(f"{BASE}/services.json?jurisdiction_id=beta-hotel").json()
    }
    assert "potholes" in alpha_codes and "potholes" not in beta_codes

    created = public_client.post(
        f"{BASE}/requests.json", {**POTHOLE, "api_key": key_a, "jurisdiction_id": "alpha"}
    )
    assert created.status_code == 200, created.content
    request_id = created.json()[0]["service_request_id"]
    with tenant_context(alpha):
        assert Report.objects.filter(public_id=request_id, channel="open311").exists()
    with tenant_context(beta):
        assert not Report.objects.filter(public_id=request_id).exists()
    found = public_client.get(f"{BASE}/requests/{request_id}.json?jurisdiction_id=alpha")
    assert found.status_code == 200
    assert (
        # A hotel publishes no requests by default; with a read key of its own, not found.
        public_client.get(f"{BASE}/requests/{request_id}.json?jurisdiction_id=beta-hotel").status_code == 403
    )
    # The tenant's own host serves it without jurisdiction_id, and refuses another one.
    assert client_a.get(f"{BASE}/requests/{request_id}.json").status_code == 200
    assert client_a.get(f"{BASE}/requests/{request_id}.json?jurisdiction_id=alpha").status_code == 200
    assert client_a.get(f"{BASE}/services.json?jurisdiction_id=beta-hotel").status_code == 404

    # A key of tenant A is an invalid api_key for tenant B, on either host.
    wrong = public_client.post(
        f"{BASE}/requests.json", {**POTHOLE, "api_key": key_a, "jurisdiction_id": "beta-hotel"}
    )
    assert wrong.status_code == 403
    on_b = public_client.post(
        f"{BASE}/requests.json",
        {
            "service_code": "noise",
            "description": "Loud",
            "address_string": "Room 12",
            "api_key": key_b,
            "jurisdiction_id": "beta-hotel",
        },
    )
    assert on_b.status_code == 200, on_b.content
    with tenant_context(alpha):
        assert not Issue.objects.filter(title__icontains="Loud").exists()


def test_key_of_tenant_a_is_rejected_on_tenant_b_host(client_b, tenant_pair) -> None:
    with tenant_context(tenant_pair[0]):
        key_a = submit_key()
    response = client_b.post(f"{BASE}/requests.json", {**POTHOLE, "api_key": key_a})
    assert response.status_code == 403


def test_throttling_answers_429_with_retry_after(client_a, tenant_a, settings) -> None:
    settings.API_ANON_RATE_PER_MINUTE = 2
    address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"

    def burst() -> list:
        return [client_a.get(f"{BASE}/services.json", REMOTE_ADDR=address) for _ in range(3)]

    responses = burst()
    if responses[2].status_code != 429:  # the one-minute window rolled over mid-burst
        responses = burst()
    assert [r.status_code for r in responses][-1] == 429
    assert responses[2].json()[0]["code"] == 429 and 0 < int(responses[2]["Retry-After"]) <= 60

    row, key = api_key_create(name="slow", scopes=["submit"])
    from civicpulse.apikeys.models import ApiKey

    ApiKey.objects.filter(pk=row.pk).update(rate_per_minute=1)
    posts = [post(client_a, {**POTHOLE, "api_key": key}) for _ in range(2)]
    if posts[1].status_code != 429:
        posts = [post(client_a, {**POTHOLE, "api_key": key}) for _ in range(2)]
    assert posts[1].status_code == 429 and posts[1]["Retry-After"]


def test_request_search_query_count_does_not_grow_with_rows(client_a, tenant_a) -> None:
    key = submit_key()
    # Each at its own place, so the rows are as many issues, not one issue's reports.
    for n in range(3):
        _processed(client_a, key, lat=str(39.7 + n / 100))

    def count(query: str, rows: int) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = client_a.get(f"{BASE}/requests.json{query}")
        assert response.status_code == 200 and len(response.json()) == rows
        return len(captured)

    few = count("?extensions=true", 3)
    for n in range(3, 6):
        _processed(client_a, key, lat=str(39.7 + n / 100))
    assert len({r.issue_id for r in Report.objects.all()}) == 6
    assert count("?extensions=true", 6) == few
    assert count("", 6) <= few


def test_nul_characters_are_refused_and_control_characters_never_break_the_xml(client_a, tenant_a) -> None:
    key = submit_key()
    refused = post(client_a, {**POTHOLE, "api_key": key, "description": "hole\x00"})
    assert refused.status_code == 400 and "NUL" in refused.json()[0]["description"]
    assert client_a.get(f"{BASE}/requests.json", {"service_code": "pot\x00holes"}).status_code == 400
    accepted = post(client_a, {**POTHOLE, "api_key": key, "description": "Pothole \x07\x1b here"})
    request_id = accepted.json()[0]["service_request_id"]
    root = xml(client_a.get(f"{BASE}/requests/{request_id}.xml"))  # parses: the feed stays well-formed
    assert root.find("request/description").text == "Pothole  here"


def test_a_suspended_jurisdiction_and_an_oversized_body_answer_in_the_specs_shape(
    client_a,
    tenant_pair,
    settings,
) -> None:
    from tenants.services import tenant_set_suspended

    settings.API_MAX_BODY_BYTES = 100
    too_large = post(client_a, {**POTHOLE, "description": "x" * 500})
    assert too_large.status_code == 413
    assert too_large.json() == [{"code": 413, "description": "Request bodies are limited to 100 bytes."}]
    tenant_set_suspended(tenant=tenant_pair[0], suspended=True)
    try:
        as_json = client_a.get(f"{BASE}/services.json")
        as_xml = client_a.get(f"{BASE}/requests.xml")
        other_method = client_a.delete(f"{BASE}/services.json")
        unknown = client_a.get(f"{BASE}/nothing.json")
    finally:
        tenant_set_suspended(tenant=tenant_pair[0], suspended=False)
    assert as_json.status_code == 403
    assert as_json.json() == [{"code": 403, "description": "This jurisdiction is suspended."}]
    error = xml(as_xml).find("error")
    assert as_xml.status_code == 403 and error.findtext("code") == "403"
    assert error.findtext("description") == "This jurisdiction is suspended."
    assert other_method.status_code == unknown.status_code == 403


def test_media_url_is_kept_and_shown_and_a_bad_one_refused(client_a, tenant_a) -> None:
    key = submit_key()
    photo = "https://photos.example.org/pothole/1.jpg"
    [created] = post(client_a, {**POTHOLE, "api_key": key, "media_url": photo}).json()
    assert Report.objects.get(public_id=created["service_request_id"]).media_url == photo
    [found] = client_a.get(f"{BASE}/requests/{created['service_request_id']}.json").json()
    assert found["media_url"] == photo
    refused = post(client_a, {**POTHOLE, "api_key": key, "media_url": "javascript:alert(1)"})
    assert refused.status_code == 400
    assert refused.json() == [
        {
            "code": 400,
            "description": "media_url: Give the address (http or https, up to 500 "
            "characters) of the picture.",
        }
    ]
    too_long = post(
        client_a, {**POTHOLE, "api_key": key, "media_url": "https://photos.example.org/" + "a" * 480}
    )
    assert too_long.status_code == 400 and too_long.json()[0]["description"].startswith("media_url: ")
    [plain] = post(client_a, {**POTHOLE, "api_key": key}).json()
    assert client_a.get(f"{BASE}/requests/{plain['service_request_id']}.json").json()[0]["media_url"] is None
