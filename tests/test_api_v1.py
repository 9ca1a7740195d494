"""The integrator API v1 beyond intake: issues with filters, ordering and pages; staff
actions with the staff scope; the taxonomy; one error shape; throttling
of anonymous callers; the OpenAPI schema and its docs page, served without a CDN."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from civicpulse.apikeys.services import api_key_create
from issues.models import Category, IssueEvent, IssueNote, IssueStatus
from issues.services.workflow import issue_note_add
from tests.conftest import api
from tests.support.factories import AreaFactory, IssueFactory, UserFactory

ERROR_KEYS = {"code", "message", "fields"}


@pytest.fixture
def staff_key(tenant_a) -> str:
    return api_key_create(name="crm", scopes=["read", "staff"])[1]


def test_issue_list_filters_orders_and_pages(client_a, api_key_a) -> None:
    now = timezone.now()
    potholes = Category.objects.get(code="potholes")
    north = AreaFactory(code="north")
    first = IssueFactory(category=potholes, area=north, created_at=now - timedelta(days=3), report_count=5)
    second = IssueFactory(
        category=potholes,
        status=IssueStatus.RESOLVED,
        created_at=now - timedelta(days=1),
        latitude=40.5,
        longitude=-88.0,
    )
    third = IssueFactory(created_at=now - timedelta(hours=1), latitude=None, longitude=None)
    client = api(client_a, api_key_a)

    def ids(query: str = "") -> list[int]:
        response = client.get(f"/api/v1/issues/{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [third.pk, second.pk, first.pk]
    body = client.get("/api/v1/issues/").json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 3
    row = next(r for r in body["results"] if r["id"] == first.pk)
    assert row["category"] == "potholes" and row["area"] == "north" and row["open311_status"] == "open"
    assert row["created_at"].endswith(("Z", "+00:00", "-05:00", "-06:00")) and row["assignee"] is None
    assert ids("?status=resolved") == [second.pk]
    assert ids("?status=in_progress&status=resolved") == [second.pk]
    assert ids("?category=potholes") == [second.pk, first.pk]
    assert ids("?area=north") == [first.pk]
    assert ids(f"?created_after={(now - timedelta(days=2)).isoformat().replace('+', '%2B')}") == [
        third.pk,
        second.pk,
    ]
    assert ids("?bbox=-89.7,39.7,-89.6,39.9") == [first.pk]
    assert ids("?ordering=-report_count")[0] == first.pk
    assert ids("?page_size=2&page=2") == [first.pk]
    assert client.get(f"/api/v1/issues/{first.pk}/").json()["report_count"] == 5

    for query, field in [
        ("?status=lost", "status"),
        ("?bbox=1,2,3", "bbox"),
        ("?created_after=soon", "created_after"),
        ("?bbox=0,50,1,40", "bbox"),
    ]:
        response = client.get(f"/api/v1/issues/{query}")
        assert response.status_code == 400 and set(response.json()) == ERROR_KEYS, query
        assert field in response.json()["fields"], response.json()
    missing = client.get("/api/v1/issues/999999/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert client.get("/api/v1/issues/?page=9").status_code == 404


def test_taxonomy_lists(client_a, api_key_a) -> None:
    client = api(client_a, api_key_a)
    categories = {c["code"]: c for c in client.get("/api/v1/categories/").json()["results"]}
    assert categories["potholes"]["department"] == "public_works"
    assert categories["potholes"]["questions"][0]["code"] == "size"
    assert {"code", "name"} <= set(client.get("/api/v1/departments/").json()["results"][0])
    AreaFactory(code="harbour")
    assert "harbour" in [a["code"] for a in client.get("/api/v1/areas/").json()["results"]]


def test_staff_actions_need_the_staff_scope(client_a, api_key_a, staff_key) -> None:
    issue = IssueFactory()
    member = UserFactory(username="dana")
    reader, staff = api(client_a, api_key_a), api(client_a, staff_key)
    for path, body in [
        (f"/api/v1/issues/{issue.pk}/status/", {"status": "acknowledged"}),
        (f"/api/v1/issues/{issue.pk}/assignee/", {"assignee": "dana"}),
        (f"/api/v1/issues/{issue.pk}/notes/", {"body": "x", "visibility": "public"}),
    ]:
        refused = reader.post(path, body)
        assert refused.status_code == 403 and "staff" in refused.json()["message"]

    changed = staff.post(f"/api/v1/issues/{issue.pk}/status/", {"status": "acknowledged", "note": "On it"})
    assert changed.status_code == 200 and changed.json()["status"] == "acknowledged"
    event = IssueEvent.objects.filter(issue=issue, kind=IssueEvent.Kind.STATUS_CHANGED).get()
    assert event.actor_label == "api:crm" and event.data["note"] == "On it"
    # Acknowledged cannot go back to open: the workflow's refusal names the field.
    impossible = staff.post(f"/api/v1/issues/{issue.pk}/status/", {"status": "open"})
    assert impossible.status_code == 400 and "status" in impossible.json()["fields"]
    unknown = staff.post(f"/api/v1/issues/{issue.pk}/status/", {"status": "done"})
    assert unknown.status_code == 400 and set(unknown.json()) == ERROR_KEYS

    assigned = staff.post(f"/api/v1/issues/{issue.pk}/assignee/", {"assignee": "dana"})
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "dana"
    issue.refresh_from_db()
    assert issue.assignee == member
    nobody = staff.post(f"/api/v1/issues/{issue.pk}/assignee/", {"assignee": "ghost"})
    assert nobody.status_code == 400 and "assignee" in nobody.json()["fields"]
    assert staff.post(f"/api/v1/issues/{issue.pk}/assignee/", {"assignee": None}).json()["assignee"] is None
    # A read key does not learn who is assigned.
    staff.post(f"/api/v1/issues/{issue.pk}/assignee/", {"assignee": "dana"})
    assert reader.get(f"/api/v1/issues/{issue.pk}/").json()["assignee"] is None

    public = staff.post(f"/api/v1/issues/{issue.pk}/notes/", {"body": "Crew booked", "visibility": "public"})
    internal = staff.post(
        f"/api/v1/issues/{issue.pk}/notes/", {"body": "Chase the contractor", "visibility": "internal"}
    )
    assert public.status_code == internal.status_code == 201
    assert IssueNote.objects.filter(issue=issue).count() == 2
    assert [n["body"] for n in reader.get(f"/api/v1/issues/{issue.pk}/notes/").json()] == ["Crew booked"]
    assert len(staff.get(f"/api/v1/issues/{issue.pk}/notes/").json()) == 2
    wrong = staff.post(f"/api/v1/issues/{issue.pk}/notes/", {"body": "x", "visibility": "secret"})
    assert wrong.status_code == 400 and "visibility" in wrong.json()["fields"]
    assert (
        staff.post("/api/v1/issues/999999/notes/", {"body": "x", "visibility": "public"}).status_code == 404
    )


def test_internal_notes_never_reach_a_read_key(client_a, api_key_a) -> None:
    issue = IssueFactory()
    issue_note_add(
        issue_id=issue.pk, body="secret plan", visibility=IssueNote.Visibility.INTERNAL, author=None
    )
    client = api(client_a, api_key_a)
    for path in (f"/api/v1/issues/{issue.pk}/notes/", f"/api/v1/issues/{issue.pk}/", "/api/v1/issues/"):
        assert "secret plan" not in client.get(path).content.decode()


def test_keys_of_tenant_a_are_unknown_on_tenant_b(client_b, staff_key) -> None:
    assert api(client_b, staff_key).get("/api/v1/issues/").status_code == 401
    assert set(api(client_b, staff_key).get("/api/v1/categories/").json()) == ERROR_KEYS


def test_issues_of_tenant_b_are_invisible_from_a(client_a, api_key_a, tenant_pair) -> None:
    with tenant_context(tenant_pair[0]):
        own = IssueFactory(title="Alpha's own")
    with tenant_context(tenant_pair[1]):
        # Ids are numbered per schema: give B an issue whose id A has never used, so
        # reading it from A can only answer from B's schema or not at all.
        other = IssueFactory(title="Beta only")
        while other.pk <= own.pk:
            other = IssueFactory(title="Beta only")
    client = api(client_a, api_key_a)
    response = client.get(f"/api/v1/issues/{other.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert "Beta only" not in client.get("/api/v1/issues/").content.decode()
    # The same id on A's host means A's issue, never B's.
    assert client.get(f"/api/v1/issues/{own.pk}/").json()["title"] == "Alpha's own"


def test_anonymous_callers_are_throttled_with_retry_after(client_a, tenant_a, settings) -> None:
    settings.API_ANON_RATE_PER_MINUTE = 2
    address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"

    def burst() -> list:
        return [client_a.get("/api/v1/schema/", REMOTE_ADDR=address) for _ in range(3)]

    responses = burst()
    if responses[2].status_code != 429:  # the one-minute window rolled over mid-burst
        responses = burst()
    assert responses[2].status_code == 429
    assert 0 < int(responses[2]["Retry-After"]) <= 60


def test_schema_and_docs_are_served_without_a_cdn(client_a, tenant_a) -> None:
    schema = client_a.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in (
        "/api/v1/reports/",
        "/api/v1/issues/",
        "/api/v1/issues/{issue_id}/status/",
        "/api/v1/categories/",
        "/api/v1/sla/metrics/",
        "/api/v1/scores/",
    ):
        assert path in paths, path
    for operations in paths.values():
        for operation in operations.values():
            assert {"400", "401", "403", "429"} <= set(operation["responses"]), operation["operationId"]
    assert document["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"
    docs = client_a.get("/api/v1/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page and "cdn" not in page.lower() and "unpkg" not in page
    assert client_a.get("/api/v1/redoc/").status_code == 200


def test_issue_list_query_count_is_pinned(client_a, api_key_a, django_assert_num_queries) -> None:
    potholes = Category.objects.get(code="potholes")
    for _ in range(5):
        IssueFactory(category=potholes, area=AreaFactory())
    client = api(client_a, api_key_a)
    client.get("/api/v1/issues/")  # first use records last_used_at
    # Tenant by host, key, the page's count and its rows with category, area, department
    # and assignee joined: four, and one SET search_path for the public schema and one for
    # the tenant's.
    with django_assert_num_queries(6):
        assert len(client.get("/api/v1/issues/").json()["results"]) == 5
