"""POST /api/v1/reports/ and GET /api/v1/reports/<tracking_id>/ as the contract says."""

import hashlib
import json

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_create
from reports.models import TRACKING_ALPHABET, TRACKING_LENGTH, Location, Report, new_tracking_id
from reports.services.pipeline import report_process
from tests.conftest import api

POINT = {"latitude": 39.80, "longitude": -89.64}
GOOD = {"description": "Deep pothole outside number 12", **POINT}


def test_post_creates_a_received_report(client_a, api_key_a) -> None:
    before = timezone.now()
    response = api(client_a, api_key_a).post("/api/v1/reports/", {**GOOD, "email": "r@example.org"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"tracking_id", "status", "submitted_at", "classification", "issue"}
    assert body["status"] == "received" and body["classification"] is None and body["issue"] is None
    assert response["Location"] == f"/api/v1/reports/{body['tracking_id']}/"
    tracking_id = body["tracking_id"]
    assert len(tracking_id) == 10 and set(tracking_id) <= set(TRACKING_ALPHABET)
    report = Report.objects.get(tracking_id=tracking_id)
    assert report.submitted_at >= before and report.email == "r@example.org"
    assert report.channel == "api" and report.api_key.name == "test"


def test_tracking_ids_draw_every_letter_at_every_place() -> None:
    """50 random bits, five to a letter: over 2,000 ids each of the 32 letters turns up at
    each of the ten places (a letter missing from one place would happen about once in
    10^25 runs), and no id repeats."""
    assert len(set(TRACKING_ALPHABET)) == len(TRACKING_ALPHABET) == 32
    ids = [new_tracking_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for place in range(TRACKING_LENGTH):
        assert {tracking_id[place] for tracking_id in ids} == set(TRACKING_ALPHABET)


def test_get_shows_classification_and_issue_once_processed(client_a, api_key_a) -> None:
    client = api(client_a, api_key_a)
    tracking_id = client.post("/api/v1/reports/", {**GOOD, "category": "potholes"}).json()["tracking_id"]
    report_process(report_id=Report.objects.get(tracking_id=tracking_id).pk)
    body = client.get(f"/api/v1/reports/{tracking_id}/").json()
    assert body["status"] == "processed"
    assert body["classification"]["category"] == "potholes"
    assert body["classification"]["severity"] in ("low", "medium", "high", "critical")
    assert body["classification"]["classifier"] == "offline-keywords-v1"
    assert body["classification"]["summary"] == "Deep pothole outside number 12"
    assert body["issue"]["report_count"] == 1 and body["issue"]["status"] == "open"
    # Lookups forgive case, hyphens and lookalike letters, as people read ids out.
    spaced = f"{tracking_id[:5].lower()}-{tracking_id[5:]}"
    assert client.get(f"/api/v1/reports/{spaced}/").status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({**POINT}, "description"),
        ({**POINT, "description": "   "}, "description"),
        ({**POINT, "description": "x" * 4001}, "description"),
        ({**POINT, "description": 12}, "description"),
        ({**POINT, "description": "nul \x00 inside"}, "description"),
        ({"description": "x", "latitude": 91, "longitude": 0}, "latitude"),
        ({"description": "x", "latitude": 0, "longitude": -180.5}, "longitude"),
        ({"description": "x", "latitude": "north", "longitude": 0}, "latitude"),
        ({"description": "x", "latitude": "39.8", "longitude": 0}, "latitude"),
        ({"description": "x", "latitude": True, "longitude": 0}, "latitude"),
        ({"description": "x", "address": "#---"}, "location"),
        ({"description": "x", "latitude": 10}, "longitude"),
        ({"description": "x", "longitude": 10}, "latitude"),
        ({"description": "x"}, "location"),
        ({"description": "x", "address": "   "}, "location"),
        ({"description": "x", "address": "a" * 501}, "address"),
        ({**GOOD, "category": "no_such_category"}, "category"),
        ({**GOOD, "email": "not-an-address"}, "email"),
        ({**GOOD, "external_id": ""}, "external_id"),
        ({**GOOD, "external_id": "e" * 101}, "external_id"),
        ({**GOOD, "colour": "red"}, "colour"),
    ],
)
def test_each_bad_field_is_named(client_a, api_key_a, body: dict, field: str) -> None:
    response = api(client_a, api_key_a).post("/api/v1/reports/", body)
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert error["fields"][field][0]
    assert error["message"].startswith(next(iter(error["fields"])))
    assert Report.objects.count() == 0


def test_each_serializer_binds_field_copies_of_its_own() -> None:
    from reports.api import NumberField, ReportCreateSerializer, TextField

    one, two = ReportCreateSerializer(data={}), ReportCreateSerializer(data={})
    assert one.fields["description"] is not two.fields["description"]
    assert one.fields["description"].parent is one and two.fields["description"].parent is two
    declared = ReportCreateSerializer._declared_fields
    assert declared["description"].parent is None
    # What one serializer changes on its fields stays its own.
    one.fields["description"].validators.append(lambda value: None)
    one.fields["description"].error_messages["invalid"] = "changed"
    assert len(two.fields["description"].validators) == len(declared["description"].validators)
    assert declared["description"].error_messages["invalid"] != "changed"
    # Shallow copies serve fields without children; a new kind of field must be checked.
    assert all(type(field) in (TextField, NumberField) for field in declared.values())


def test_inactive_category_is_refused(client_a, api_key_a) -> None:
    from issues.models import Category

    Category.objects.filter(code="graffiti").update(active=False)
    response = api(client_a, api_key_a).post("/api/v1/reports/", {**GOOD, "category": "graffiti"})
    assert response.status_code == 400 and "category" in response.json()["fields"]


def test_malformed_json_and_non_objects_are_400(client_a, api_key_a) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {api_key_a}"}
    broken = client_a.post("/api/v1/reports/", "{not json", content_type="application/json", **headers)
    assert broken.status_code == 400 and broken.json()["code"] == "parse_error"
    nan = client_a.post(
        "/api/v1/reports/",
        '{"description": "x", "latitude": NaN, "longitude": 1}',
        content_type="application/json",
        **headers,
    )
    assert nan.status_code == 400
    array = api(client_a, api_key_a).post("/api/v1/reports/", [GOOD])
    assert array.status_code == 400 and array.json()["code"] == "invalid"


def test_text_is_stored_exactly_as_given(client_a, api_key_a) -> None:
    text = "  <script>alert('x')</script>\n Ünïcödé & \"quotes\"  "
    tracking_id = (
        api(client_a, api_key_a).post("/api/v1/reports/", {**GOOD, "description": text}).json()["tracking_id"]
    )
    assert Report.objects.get(tracking_id=tracking_id).description == text


def test_oversized_body_is_413(client_a, api_key_a) -> None:
    response = api(client_a, api_key_a).post("/api/v1/reports/", {**GOOD, "description": "x" * 70_000})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    assert Report.objects.count() == 0


def test_missing_or_bad_key_is_401_and_missing_scope_is_403(client_a, tenant_a) -> None:
    assert api(client_a, None).post("/api/v1/reports/", GOOD).status_code == 401
    bad = api(client_a, "cp_not-a-real-key").post("/api/v1/reports/", GOOD)
    assert bad.status_code == 401 and bad.json()["code"] == "authentication_failed"
    assert bad["WWW-Authenticate"] == "Api-Key"
    wrong_scheme = client_a.post(
        "/api/v1/reports/", GOOD, content_type="application/json", HTTP_AUTHORIZATION="Bearer x"
    )
    assert wrong_scheme.status_code == 401

    _, read_only = api_key_create(name="reader", scopes=["read"])
    _, submit_only = api_key_create(name="writer", scopes=["submit"])
    forbidden = api(client_a, read_only).post("/api/v1/reports/", GOOD)
    assert forbidden.status_code == 403 and "submit" in forbidden.json()["message"]
    tracking_id = api(client_a, submit_only).post("/api/v1/reports/", GOOD).json()["tracking_id"]
    path = f"/api/v1/reports/{tracking_id}/"
    assert api(client_a, submit_only).get(path).status_code == 403
    # HEAD needs what GET needs: a submit-only key cannot probe which ids exist.
    assert client_a.head(path, HTTP_AUTHORIZATION=f"Api-Key {submit_only}").status_code == 403
    assert api(client_a, read_only).get(path).status_code == 200
    assert client_a.head(path, HTTP_AUTHORIZATION=f"Api-Key {read_only}").status_code == 200
    # A method the endpoint does not have is a 405, whatever the key.
    assert client_a.delete(path, HTTP_AUTHORIZATION=f"Api-Key {read_only}").status_code == 405


def test_revoked_key_is_401_and_use_is_recorded(client_a, tenant_a) -> None:
    from civicpulse.apikeys.services import api_key_revoke

    row, key = api_key_create(name="soon revoked", scopes=["submit"])
    assert api(client_a, key).post("/api/v1/reports/", GOOD).status_code == 201
    row.refresh_from_db()
    assert row.last_used_at is not None
    api_key_revoke(api_key=row)
    assert api(client_a, key).post("/api/v1/reports/", GOOD).status_code == 401


def test_external_id_is_an_idempotency_key_per_api_key(client_a, api_key_a) -> None:
    client = api(client_a, api_key_a)
    first = client.post("/api/v1/reports/", {**GOOD, "external_id": "crm-42"})
    again = client.post("/api/v1/reports/", {**GOOD, "description": "changed", "external_id": "crm-42"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["tracking_id"] == first.json()["tracking_id"]
    assert again["Location"] == first["Location"]
    assert Report.objects.count() == 1
    assert Report.objects.get().description == GOOD["description"]
    # Another integrator may use the same id for its own report.
    _, other_key = api_key_create(name="other", scopes=["submit"])
    other = api(client_a, other_key).post("/api/v1/reports/", {**GOOD, "external_id": "crm-42"})
    assert other.status_code == 201 and other.json()["tracking_id"] != first.json()["tracking_id"]


def test_throttled_key_gets_429_with_retry_after(client_a, tenant_a) -> None:
    def burst() -> list:
        row, key = api_key_create(name="slow", scopes=["submit"])
        ApiKey.objects.filter(pk=row.pk).update(rate_per_minute=2)
        return [api(client_a, key).post("/api/v1/reports/", GOOD) for _ in range(3)]

    responses = burst()
    if responses[2].status_code != 429:  # the one-minute window rolled over mid-burst
        responses = burst()
    assert [r.status_code for r in responses] == [201, 201, 429]
    assert responses[2].json()["code"] == "throttled"
    assert 0 < int(responses[2]["Retry-After"]) <= 60


def test_a_report_of_tenant_a_is_invisible_from_tenant_b(client_a, client_b, api_key_a, tenant_pair) -> None:
    tracking_id = api(client_a, api_key_a).post("/api/v1/reports/", GOOD).json()["tracking_id"]
    # A's key means nothing on B's host...
    assert api(client_b, api_key_a).get(f"/api/v1/reports/{tracking_id}/").status_code == 401
    # ...and B's own key does not find A's report.
    with tenant_context(tenant_pair[1]):
        _, key_b = api_key_create(name="b", scopes=["read"])
    response = api(client_b, key_b).get(f"/api/v1/reports/{tracking_id}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    with tenant_context(tenant_pair[1]):
        assert not Report.objects.filter(tracking_id=tracking_id).exists()


def test_address_only_report_is_placed_from_known_locations(client_a, api_key_a) -> None:
    from reports.services.staff_edits import report_place

    client = api(client_a, api_key_a)
    client.post("/api/v1/reports/", {**GOOD, "address": "12 North Main Street"})
    # One report's point is a claim, not the address's place (docs/security.md): staff place it.
    assert not Location.objects.filter(address_key="12 n main st").exists()
    waiting = client.post("/api/v1/reports/", {"description": "Pothole", "address": "12 N Main St"}).json()
    first = Report.objects.get(tracking_id=waiting["tracking_id"])
    assert first.needs_placement
    report_place(report_id=first.pk, latitude=GOOD["latitude"], longitude=GOOD["longitude"])
    assert Location.objects.filter(address_key="12 n main st").exists()
    placed = client.post(
        "/api/v1/reports/", {"description": "Pothole again", "address": "12 N. Main St"}
    ).json()
    report = Report.objects.get(tracking_id=placed["tracking_id"])
    assert (report.latitude, report.longitude) == (GOOD["latitude"], GOOD["longitude"])
    assert not report.needs_placement

    unknown = client.post(
        "/api/v1/reports/", {"description": "Broken bench", "address": "1 Nowhere Lane"}
    ).json()
    report = Report.objects.get(tracking_id=unknown["tracking_id"])
    assert report.latitude is None and report.needs_placement and report.address_key == "1 nowhere ln"
    # Addresses in any script keep their words, so different places get different keys.
    german = client.post(
        "/api/v1/reports/", {"description": "Laterne aus", "address": "Müllerstraße 5"}
    ).json()
    tokyo = client.post(
        "/api/v1/reports/", {"description": "街灯が消えている", "address": "東京都港区1-2"}
    ).json()
    assert Report.objects.get(tracking_id=german["tracking_id"]).address_key == "müllerstrasse 5"
    assert Report.objects.get(tracking_id=tokyo["tracking_id"]).address_key == "東京都港区1 2"


def test_post_query_count_is_pinned(client_a, api_key_a, django_assert_num_queries) -> None:
    client = api(client_a, api_key_a)
    client.post("/api/v1/reports/", GOOD)  # first use records last_used_at
    # Tenant by host (public's SET search_path and the lookup), the tenant's SET search_path
    # (once: TENANT_LIMIT_SET_CALLS), key, insert (+ savepoint and release inside the
    # test's transaction); no per-request write to the key.
    with django_assert_num_queries(7):
        assert client.post("/api/v1/reports/", GOOD).status_code == 201


def test_create_api_key_command_prints_only_the_key(tenant_pair, capsys, db) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("create_api_key", "alpha", "--name", "cli", "--scopes", "submit,read,staff")
    out = capsys.readouterr().out
    key = out.strip()
    assert out.count("\n") == 1 and key.startswith("cp_") and len(key) > 40
    with tenant_context(tenant_pair[0]):
        row = ApiKey.objects.get(name="cli")
        assert sorted(row.scopes) == ["read", "staff", "submit"]
        # Only a SHA-256 digest and a short prefix are kept, never the key.
        assert row.digest == hashlib.sha256(key.encode()).hexdigest()
        assert key.startswith(row.prefix) and len(row.prefix) < 16
        assert key not in json.dumps(list(ApiKey.objects.filter(pk=row.pk).values()), default=str)
    with pytest.raises(CommandError):
        call_command("create_api_key", "alpha", "--name", "x", "--scopes", "admin")
    with pytest.raises(CommandError):
        call_command("create_api_key", "nope", "--name", "x")


def test_unknown_api_paths_and_suspension_use_the_error_shape(client_a, api_key_a, tenant_pair) -> None:
    from tenants.services import tenant_set_suspended

    missing = api(client_a, api_key_a).get("/api/v1/nothing-here/")
    assert missing.status_code == 404 and missing.json() == {
        "code": "not_found",
        "message": "No such endpoint.",
        "fields": {},
    }
    tenant_set_suspended(tenant=tenant_pair[0], suspended=True)
    try:
        suspended = api(client_a, api_key_a).post("/api/v1/reports/", GOOD)
    finally:
        tenant_set_suspended(tenant=tenant_pair[0], suspended=False)
    assert suspended.status_code == 403
    assert (
        set(suspended.json()) == {"code", "message", "fields"}
        and suspended.json()["code"] == "tenant_suspended"
    )
