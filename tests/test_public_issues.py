"""What anyone may see of a tenant's issues: "already reported near here?"
(`GET /issues/nearby/`), the public list with its filters and pages, its map's markers,
and one issue's public page. Only where the tenant publishes its issues (a city by
default; a hotel only once switched on, and then with rounded points), public fields
only, throttled per client address."""

import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image

from civicpulse.core.redis_client import redis_client
from issues.models import Issue, IssueNote
from issues.public_selectors import PublicFilters, issue_markers, issues_nearby
from issues.services.workflow import issue_assign, issue_note_add, issue_transition
from reports.models import Report
from reports.public_views import NEARBY_RATE, PAGES_RATE
from reports.services.intake import report_submit
from reports.services.pipeline import report_process
from tenants.models import Tenant
from tests.support.factories import AreaFactory, CategoryFactory, IssueFactory, UserFactory

LAT, LON = 39.8000, -89.6400
# Metres per degree of latitude on earthdistance's sphere: 0.0009 degrees is about 100 m.
M = 1 / 111_319.0
FIELDS = {
    "id",
    "title",
    "category",
    "category_code",
    "status",
    "status_label",
    "report_count",
    "distance_m",
    "latitude",
    "longitude",
    "photo_url",
    "url",
}


@pytest.fixture(autouse=True)
def fresh_throttle():
    for scope in ("nearby", "pages"):
        for key in redis_client().scan_iter(match=f"cp:*:{scope}:*"):
            redis_client().delete(key)


def nearby(client, lat: float = LAT, lon: float = LON, **extra):
    return client.get("/issues/nearby/", {"latitude": lat, "longitude": lon}, **extra)


def publish(tenant: Tenant, monkeypatch) -> None:
    """Switch the tenant's public reads on: in the database (rolled back with the test;
    requests re-read it) and on the session's tenant object (given back after the test)."""
    Tenant.objects.filter(pk=tenant.pk).update(open311_public_reads=True)
    monkeypatch.setattr(tenant, "open311_public_reads", True)
    monkeypatch.setattr(connection.tenant, "open311_public_reads", True)


def _photo() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 30)).save(out, format="JPEG")
    return SimpleUploadedFile("p.jpg", out.getvalue(), content_type="image/jpeg")


def test_nearby_lists_open_issues_within_200_m_nearest_first(client_a, tenant_a) -> None:
    lights = CategoryFactory(code="lights_pub", name="Street lights")
    mid = IssueFactory(title="Flickering lamp", latitude=LAT + 150 * M, category=lights, report_count=3)
    near = IssueFactory(title="Dark corner", latitude=LAT + 50 * M, status="acknowledged")
    IssueFactory(title="Too far", latitude=LAT + 250 * M)
    IssueFactory(title="Closed already", latitude=LAT + 20 * M, status="closed")
    IssueFactory(title="Resolved already", latitude=LAT + 20 * M, status="resolved")
    IssueFactory(title="Address only", latitude=None, longitude=None, address_key="12 MAIN ST")

    response = nearby(client_a)
    assert response.status_code == 200
    issues = response.json()["issues"]
    assert [i["id"] for i in issues] == [near.pk, mid.pk]
    assert all(set(i) == FIELDS for i in issues)
    first, second = issues
    assert first["distance_m"] == 50 and second["distance_m"] == 150
    assert first["status"] == "acknowledged" and first["status_label"] == "Acknowledged"
    assert first["category"] is None and first["report_count"] == 1
    assert (second["category"], second["category_code"], second["report_count"]) == (
        "Street lights",
        "lights_pub",
        3,
    )
    # A city's points are exact, and each issue links to its public page.
    assert (second["latitude"], second["longitude"]) == (mid.latitude, LON)
    assert second["url"] == f"/issues/{mid.pk}/" and second["photo_url"] is None


def test_nearby_answers_a_bounded_number(client_a, tenant_a) -> None:
    for n in range(25):
        IssueFactory(latitude=LAT + n * M)
    issues = nearby(client_a).json()["issues"]
    assert len(issues) == 20 and [i["distance_m"] for i in issues] == list(range(20))


def test_nearby_is_one_query_on_the_open_point_index(tenant_a) -> None:
    IssueFactory(latitude=LAT)
    # Open issues elsewhere and fresh statistics: the plan then depends on this test's rows,
    # not on what the tables held when an earlier test last analysed them.
    for n in range(1, 31):
        IssueFactory(latitude=LAT + n * 0.05)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE issues_issue")
        cursor.execute("SET LOCAL enable_seqscan = off")
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert len(issues_nearby(latitude=LAT, longitude=LON, rounded=False)) == 1
    # django-tenants may set the search path first; the lookup itself is one statement.
    (query,) = [q["sql"] for q in queries if not q["sql"].upper().startswith("SET ")]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + query)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "issue_open_point" in plan


def test_the_photo_shown_is_one_staff_approved(client_a, tenant_a) -> None:
    report = report_submit(
        description="Broken swing in the park",
        latitude=LAT,
        longitude=LON,
        photo=_photo(),
        email="r@example.org",
    ).report
    report_process(report_id=report.pk)
    report.refresh_from_db()
    body = nearby(client_a).content.decode()
    assert json.loads(body)["issues"][0]["photo_url"] is None
    # Nothing of the reporter travels: not the tracking id, not the email, not the photo.
    for private in (report.tracking_id, "r@example.org", "/track/", str(report.public_id)):
        assert private not in body
    Report.objects.filter(pk=report.pk).update(photo_approved=True)
    issue = nearby(client_a).json()["issues"][0]
    assert issue["id"] == report.issue_id and issue["photo_url"] == f"/photos/{report.public_id}"
    assert client_a.get(issue["photo_url"]).status_code == 200


def test_a_hotel_publishes_nothing_until_switched_on_then_rounded(client_b, tenant_b, monkeypatch) -> None:
    issue = IssueFactory(title="Lift out of order", latitude=LAT + 0.00012, longitude=LON + 0.00034)
    refused = nearby(client_b)
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    for path in ("/issues/", f"/issues/{issue.pk}/", "/issues/markers/"):
        assert client_b.get(path).status_code == 404
    assert 'id="nearby"' not in client_b.get("/report/").content.decode()

    publish(tenant_b, monkeypatch)
    shown = nearby(client_b).json()["issues"]
    assert [i["id"] for i in shown] == [issue.pk]
    # Rounded to ~100 m, and the distance is measured from the rounded point, so measuring
    # from several places finds nothing finer.
    assert (shown[0]["latitude"], shown[0]["longitude"]) == (39.8, -89.64)
    assert shown[0]["distance_m"] == 0
    page = client_b.get(f"/issues/{issue.pk}/").content.decode()
    assert "39.8, -89.64" in page and str(issue.longitude) not in page
    markers = client_b.get("/issues/markers/").json()["markers"]
    assert (markers[0]["latitude"], markers[0]["longitude"]) == (39.8, -89.64)


def test_rounded_points_are_found_within_the_radius_of_their_rounded_place(tenant_b) -> None:
    # 228 m from the point, but published 50 m nearer (rounded to 39.801): listed, at the
    # distance of its published point.
    IssueFactory(latitude=39.80145, longitude=LON)
    assert issues_nearby(latitude=39.7994, longitude=LON, rounded=False) == []
    (shown,) = issues_nearby(latitude=39.7994, longitude=LON, rounded=True)
    assert shown.latitude == 39.801 and round(shown.distance_m) == 178


def test_each_tenant_sees_its_own_issues(client_a, tenant_a, tenant_pair) -> None:
    mine = IssueFactory(latitude=LAT)
    with tenant_context(tenant_pair[1]):
        IssueFactory(latitude=LAT)
    connection.set_tenant(tenant_a)
    assert [i["id"] for i in nearby(client_a).json()["issues"]] == [mine.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"longitude": "-89.64"}, "latitude"),
        ({"latitude": "abc", "longitude": "-89.64"}, "latitude"),
        ({"latitude": "nan", "longitude": "-89.64"}, "latitude"),
        ({"latitude": "91", "longitude": "-89.64"}, "latitude"),
        ({"latitude": "39.8", "longitude": "inf"}, "longitude"),
        ({"latitude": "39.8", "longitude": "-180.5"}, "longitude"),
        ({"latitude": "39.8"}, "longitude"),
    ],
)
def test_bad_coordinates_are_a_400_naming_the_field(client_a, tenant_a, query, field) -> None:
    response = client_a.get("/issues/nearby/", query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and set(body["fields"]) == {field}
    assert body["message"].startswith(f"{field}: ") and "-" in body["fields"][field][0]


def test_nearby_is_throttled_per_client_address(client_a, tenant_a) -> None:
    limit = NEARBY_RATE[0]
    for _ in range(limit):
        assert nearby(client_a, REMOTE_ADDR="10.9.0.1").status_code == 200
    refused = nearby(client_a, REMOTE_ADDR="10.9.0.1")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["code"] == "throttled"
    # Another address has its own budget; an IPv6 client is counted by its /64.
    assert nearby(client_a, REMOTE_ADDR="10.9.0.2").status_code == 200
    for n in range(limit):
        assert nearby(client_a, REMOTE_ADDR=f"2001:db8:1:2::{n + 1}").status_code == 200
    assert nearby(client_a, REMOTE_ADDR="2001:db8:1:2::ffff").status_code == 429


def test_the_public_pages_and_markers_share_one_throttle_per_client_address(client_a, tenant_a) -> None:
    """Each answer is bounded, but a client walking every page or issue would read the
    tenant's whole history: a person browsing asks a few a minute."""
    issue = IssueFactory(latitude=LAT, longitude=LON)
    paths = ("/issues/", "/issues/markers/", f"/issues/{issue.pk}/")
    for n in range(PAGES_RATE[0]):
        assert client_a.get(paths[n % 3], REMOTE_ADDR="10.9.1.1").status_code == 200
    page = client_a.get("/issues/", REMOTE_ADDR="10.9.1.1")
    assert page.status_code == 429 and int(page["Retry-After"]) >= 1
    assert "Please wait a minute" in page.content.decode()
    assert client_a.get(f"/issues/{issue.pk}/", REMOTE_ADDR="10.9.1.1").status_code == 429
    markers = client_a.get("/issues/markers/", REMOTE_ADDR="10.9.1.1")
    assert markers.status_code == 429 and markers.json()["code"] == "throttled"
    # The form's nearby lookups keep their own budget; another address has its own.
    assert nearby(client_a, REMOTE_ADDR="10.9.1.1").status_code == 200
    assert client_a.get("/issues/", REMOTE_ADDR="10.9.1.2").status_code == 200
    spanish = client_a.get("/issues/", REMOTE_ADDR="10.9.1.1", HTTP_ACCEPT_LANGUAGE="es")
    assert spanish.status_code == 429 and "Espere un minuto" in spanish.content.decode()


def _page(client, query: dict | None = None):
    response = client.get("/issues/", query or {})
    return response, response.content.decode()


def _listed(html: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r'<li data-issue="(\d+)">', html)]


def test_the_public_list_shows_open_and_recent_issues_with_filters(client_a, tenant_a) -> None:
    now = timezone.now()
    roads = CategoryFactory(code="roads_pub", name="Roads")
    parks = CategoryFactory(code="parks_pub", name="Parks")
    north = AreaFactory(code="north_pub", name="North")
    pothole = IssueFactory(
        title="Pothole on Elm", category=roads, area=north, created_at=now - timedelta(days=200)
    )
    swing = IssueFactory(
        title="Broken swing", category=parks, status="in_progress", created_at=now - timedelta(days=2)
    )
    fixed = IssueFactory(
        title="Fixed bench", category=parks, status="resolved", created_at=now - timedelta(days=10)
    )
    old = IssueFactory(
        title="Old closed one", category=roads, status="closed", created_at=now - timedelta(days=120)
    )

    response, html = _page(client_a)
    assert response.status_code == 200
    # Newest first: open ones however old, finished ones only when recent.
    assert _listed(html) == [swing.pk, fixed.pk, pothole.pk]
    assert "Pothole on Elm" in html and f'href="/issues/{pothole.pk}/"' in html
    assert _listed(_page(client_a, {"category": "parks_pub"})[1]) == [swing.pk, fixed.pk]
    assert _listed(_page(client_a, {"status": "closed"})[1]) == [old.pk]
    assert _listed(_page(client_a, {"area": "north_pub"})[1]) == [pothole.pk]
    assert _listed(_page(client_a, {"category": "roads_pub", "status": "in_progress"})[1]) == []
    # The map is fed the same filters.
    assert (
        'data-markers-url="/issues/markers/?category=parks_pub"'
        in _page(client_a, {"category": "parks_pub"})[1]
    )
    markers = client_a.get("/issues/markers/", {"category": "parks_pub"}).json()
    assert [m["id"] for m in markers["markers"]] == [swing.pk, fixed.pk] and markers["truncated"] is False
    assert set(markers["markers"][0]) == {
        "id",
        "latitude",
        "longitude",
        "title",
        "category",
        "status",
        "status_label",
        "url",
    }
    for bad in ({"status": "bogus"}, {"category": "nope"}, {"page": "0"}, {"page": "x"}):
        assert client_a.get("/issues/", bad).status_code == 400


def test_the_public_list_is_paginated(client_a, tenant_a) -> None:
    now = timezone.now()
    issues = [IssueFactory(created_at=now - timedelta(hours=n)) for n in range(25)]
    response, html = _page(client_a)
    assert _listed(html) == [i.pk for i in issues[:20]]
    assert 'href="?page=2" rel="next"' in html and 'rel="prev"' not in html
    _, second = _page(client_a, {"page": 2})
    assert _listed(second) == [i.pk for i in issues[20:]]
    assert 'href="?page=1" rel="prev"' in second and 'rel="next"' not in second
    _, filtered = _page(client_a, {"status": "open"})
    assert 'href="?status=open&amp;page=2"' in filtered
    assert _listed(_page(client_a, {"page": 3})[1]) == []


def test_markers_follow_the_viewport_and_are_bounded(client_a, tenant_a) -> None:
    inside = IssueFactory(latitude=39.80, longitude=-89.64)
    IssueFactory(latitude=39.90, longitude=-89.64)
    IssueFactory(latitude=None, longitude=None)
    box = {"west": "-89.7", "south": "39.75", "east": "-89.6", "north": "39.85"}
    assert [m["id"] for m in client_a.get("/issues/markers/", box).json()["markers"]] == [inside.pk]
    assert client_a.get("/issues/markers/", {**box, "south": "39.9"}).status_code == 400
    assert client_a.get("/issues/markers/", {"west": "-89.7"}).json()["fields"].keys() == {
        "south",
        "east",
        "north",
    }
    markers, truncated = issue_markers(PublicFilters(), now=timezone.now(), rounded=False, box=None, limit=1)
    assert len(markers) == 1 and truncated


def test_the_public_issue_page_shows_its_public_history_only(client_a, tenant_a) -> None:
    report = report_submit(
        description="Graffiti on the underpass wall",
        latitude=LAT,
        longitude=LON,
        email="reporter@example.org",
        photo=_photo(),
    ).report
    report_process(report_id=report.pk)
    report.refresh_from_db()
    issue = Issue.objects.get(pk=report.issue_id)
    clerk = UserFactory(username="clerk-pub")
    issue_assign(issue_id=issue.pk, assignee=clerk, actor=clerk)
    issue_transition(issue_id=issue.pk, to_status="acknowledged", actor=clerk)
    issue_note_add(
        issue_id=issue.pk,
        body="Crew booked for Tuesday.",
        visibility=IssueNote.Visibility.PUBLIC,
        author=clerk,
    )
    issue_note_add(
        issue_id=issue.pk,
        body="Ask the rail company to pay.",
        visibility=IssueNote.Visibility.INTERNAL,
        author=clerk,
    )

    response = client_a.get(f"/issues/{issue.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Status: Acknowledged" in html and "Crew booked for Tuesday." in html and "First reported" in html
    for private in (
        "Ask the rail company to pay.",
        "reporter@example.org",
        report.tracking_id,
        "clerk-pub",
        "/track/",
        str(report.public_id),  # its photo is not approved
    ):
        assert private not in html, private
    listed = client_a.get("/issues/").content.decode()
    assert (
        report.tracking_id not in listed and "reporter@example.org" not in listed and "/photos/" not in listed
    )

    Report.objects.filter(pk=report.pk).update(photo_approved=True)
    assert f"/photos/{report.public_id}" in client_a.get(f"/issues/{issue.pk}/").content.decode()
    assert f"/photos/{report.public_id}" in client_a.get("/issues/").content.decode()
    assert client_a.get("/issues/999999/").status_code == 404


def test_the_report_form_offers_the_nearby_panel_where_issues_are_public(client_a, tenant_a) -> None:
    html = client_a.get("/report/").content.decode()
    assert 'id="nearby"' in html and 'data-url="/issues/nearby/"' in html
    assert 'name="chosen_issue"' in html and "reports/nearby.js" in html


def test_queries_do_not_grow_with_the_issues_shown(client_a, tenant_a) -> None:
    from django.test.utils import CaptureQueriesContext

    def queries(path: str, query: dict) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client_a.get(path, query).status_code == 200
        return len(captured)

    parks = CategoryFactory(code="parks_q", name="Parks")
    area = AreaFactory(code="area_q")
    IssueFactory(latitude=LAT, category=parks, area=area)
    point = {"latitude": LAT, "longitude": LON}
    few = (queries("/issues/nearby/", point), queries("/issues/", {}), queries("/issues/markers/", {}))
    for n in range(15):
        IssueFactory(latitude=LAT + n * M, category=CategoryFactory(code=f"cat_q{n}"), area=area)
    many = (queries("/issues/nearby/", point), queries("/issues/", {}), queries("/issues/markers/", {}))
    assert many == few
