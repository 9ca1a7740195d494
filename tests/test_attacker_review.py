"""Regression tests for what the second attacker's read of issue 18 found (report of
2026-12-05, /work/notes/report-h7.md): each test fails without its fix."""

from django.db import connection

from tenants.models import Tenant
from tests.support.factories import IssueFactory

LAT, LON = 39.8000, -89.6400


def publish(tenant: Tenant, monkeypatch) -> None:
    """Switch the tenant's public reads on (rolled back with the test)."""
    Tenant.objects.filter(pk=tenant.pk).update(open311_public_reads=True)
    monkeypatch.setattr(tenant, "open311_public_reads", True)
    monkeypatch.setattr(connection.tenant, "open311_public_reads", True)


def test_a_markers_viewport_reveals_nothing_finer_than_the_rounded_point(
    client_b, tenant_b, monkeypatch
) -> None:
    # A hotel publishing its issues shows points rounded to 3 places. Were the viewport
    # compared with the exact point, shrinking boxes around it would find that point to
    # the centimetre (bisection on each edge), whatever the answer's rounding.
    issue = IssueFactory(latitude=LAT + 0.00012, longitude=LON + 0.00034)  # published 39.8, -89.64
    publish(tenant_b, monkeypatch)

    def listed(west: float, south: float, east: float, north: float) -> list[int]:
        box = {"west": west, "south": south, "east": east, "north": north}
        return [m["id"] for m in client_b.get("/issues/markers/", box).json()["markers"]]

    # Holds the exact point, not the published one: nothing.
    assert listed(LON + 0.0003, LAT + 0.0001, LON + 0.0004, LAT + 0.0002) == []
    # Holds the published point, not the exact one: listed, at the published point.
    assert listed(LON - 0.0001, LAT - 0.0001, LON + 0.0001, LAT + 0.0001) == [issue.pk]
    (marker,) = client_b.get("/issues/markers/").json()["markers"]
    assert (marker["latitude"], marker["longitude"]) == (39.8, -89.64)


def test_address_suggestions_keep_reported_addresses_private_where_requests_are(
    client_b, tenant_b, monkeypatch
) -> None:
    # A hotel does not publish its requests: the addresses its reports taught (staff
    # placing a report's address, or reports agreeing) would tell anyone which rooms were
    # reported on. Its own imported records are still suggested.
    from django.core.cache import cache

    from civicpulse.core.redis_client import redis_client
    from reports.addresses import standardise_address
    from reports.models import Location

    for key in redis_client().scan_iter(match="cp:*:addresses:*"):
        redis_client().delete(key)
    cache.clear()
    for address, source in (("Room 412 Harbor Wing", "staff"), ("Room 413 Harbor Wing", "reports")):
        Location.objects.create(
            address=address,
            address_key=standardise_address(address).key,
            latitude=LAT,
            longitude=LON,
            source=source,
        )
    Location.objects.create(
        address="Room 414 Harbor Wing",
        address_key=standardise_address("Room 414 Harbor Wing").key,
        latitude=LAT,
        longitude=LON,
        source="import",
    )

    def suggested() -> list[str]:
        return [
            a["address"] for a in client_b.get("/report/addresses/", {"q": "harbor wing"}).json()["addresses"]
        ]

    assert suggested() == ["Room 414 Harbor Wing"]
    publish(tenant_b, monkeypatch)  # published requests carry their addresses anyway
    assert suggested() == ["Room 412 Harbor Wing", "Room 413 Harbor Wing", "Room 414 Harbor Wing"]


def test_a_view_only_member_cannot_generate_property_reports(client_a, tenant_a) -> None:
    # Generating writes a stored report (and may ask the model for its narrative), like a
    # location report: it needs the add permission, not just the right to look.
    from django.contrib.auth.models import Permission, User

    from analytics.property.models import PropertyReport
    from tests.support.property_data import property_with_records

    property_with_records(open_violations=6)
    viewer = User.objects.create_user("viewer", "v@example.org", "pw-long-enough-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_propertyreport"))
    client_a.force_login(viewer)
    assert (
        client_a.get("/admin/analytics/propertyreport/search/", {"address": "12 N Main St 60601"}).status_code
        == 200
    )
    made = client_a.post("/admin/analytics/propertyreport/search/report/", {"address": "12 N Main St 60601"})
    assert made.status_code == 403 and not PropertyReport.objects.exists()

    viewer.user_permissions.add(Permission.objects.get(codename="add_propertyreport"))
    client_a.force_login(User.objects.get(pk=viewer.pk))  # permissions are cached per object
    made = client_a.post("/admin/analytics/propertyreport/search/report/", {"address": "12 N Main St 60601"})
    assert made.status_code == 302 and PropertyReport.objects.count() == 1


def test_a_record_portal_beside_the_server_is_never_fetched(tenant_a, settings) -> None:
    # The portal's URL is the tenant's staff's to set, and beat fetches it every day:
    # pointed at the loopback or private network (the database, Redis, a cloud's metadata
    # address) the server would probe its neighbours for them. Only public addresses are
    # asked, unless the operator names the host; a redirect is held to the same rule.
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import pytest

    from analytics.records.models import RecordSource
    from analytics.records.socrata import FetchError, records_fetch
    from civicpulse.core.outbound import OutboundRefused, outbound_url_check

    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            asked.append(self.path)
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header(
                    "Location", f"http://localhost:{self.server.server_address[1]}/resource/x.json"
                )
                self.end_headers()
                return
            body = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        source = RecordSource.objects.create(
            dataset="violations", base_url=f"http://127.0.0.1:{port}", resource_id="x"
        )
        settings.OUTBOUND_PRIVATE_HOSTS = []
        with pytest.raises(FetchError, match="not a public address"):
            records_fetch(dataset="violations", sleep=lambda s: None)
        assert asked == []
        # Named by the operator: fetched; but a redirect from it to another private host is not followed.
        settings.OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]
        RecordSource.objects.filter(pk=source.pk).update(base_url=f"http://127.0.0.1:{port}/redirect#")
        with pytest.raises(FetchError, match="not a public address"):
            records_fetch(dataset="violations", sleep=lambda s: None)
        assert len(asked) == 1 and asked[0].startswith("/redirect")
    finally:
        server.shutdown()
        server.server_close()
    for url in (
        "ftp://example.org/x",
        "file:///etc/passwd",
        "http://169.254.169.254/latest",
        "http://[::1]:80/",
    ):
        with pytest.raises(OutboundRefused):
            outbound_url_check(url)


def test_password_spraying_from_one_ipv6_network_is_locked_out(client_a, tenant_pair, settings) -> None:
    # One IPv6 subscriber holds a whole /64: spraying from a new address of it for every
    # guess must still meet the address limit, as every per-address limit counts the /64.
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_tenants.utils import schema_context

    from tests.conftest import host_of

    settings.AXES_ADDRESS_FAILURE_LIMIT = 6
    with schema_context(tenant_pair[0].schema_name):
        get_user_model().objects.create_superuser("staff", "staff@example.org", "correct horse battery")

    def login(username: str, password: str, address: str) -> int:
        form = {"username": username, "password": password}
        return client_a.post("/admin/login/?next=/admin/", form, REMOTE_ADDR=address).status_code

    for n in range(settings.AXES_ADDRESS_FAILURE_LIMIT - 1):
        assert login(f"user{n}", "Summer2026!", f"2001:db8:5:7::{n + 1:x}") == 200
    assert login("one-more", "Summer2026!", "2001:db8:5:7:ffff::1") == 429
    assert login("staff", "correct horse battery", "2001:db8:5:7:abcd::9") == 429
    # Another network still signs in.
    other = Client(HTTP_HOST=host_of(tenant_pair[0]))
    form = {"username": "staff", "password": "correct horse battery"}
    assert other.post("/admin/login/?next=/admin/", form, REMOTE_ADDR="2001:db8:5:8::1").status_code == 302


def test_me_too_measures_from_the_published_point(tenant_b, monkeypatch) -> None:
    # Where points are rounded, whether "Me too" is accepted must depend only on the
    # published point: the exact one would leak at the edge of the 500 m circle.
    from civicpulse.core.geo import METRES_PER_DEGREE
    from reports.services.chosen_issue import CHOSEN_ISSUE_MAX_M, chosen_issue_errors

    issue = IssueFactory(latitude=LAT + 0.00012, longitude=LON + 0.00034)  # published 39.8, -89.64
    publish(tenant_b, monkeypatch)
    # 505 m north of the published point, about 493 m from the exact one.
    here = LAT + (CHOSEN_ISSUE_MAX_M + 5) / METRES_PER_DEGREE
    assert chosen_issue_errors(issue_id=issue.pk, latitude=here, longitude=LON)
    assert not chosen_issue_errors(issue_id=issue.pk, latitude=here - 10 / METRES_PER_DEGREE, longitude=LON)


def test_open311_counts_unknown_api_keys_per_client_like_the_api(client_a, tenant_a, settings) -> None:
    # An Open311 POST is throttled by its key only, so unknown keys were looked up at full
    # speed there; they now count against the client's bad-key budget as the API's do.
    from civicpulse.core.redis_client import redis_client

    for key in redis_client().scan_iter(match="cp:*:apikey:*"):
        redis_client().delete(key)
    settings.API_BAD_KEY_RATE_PER_MINUTE = 3
    post = {"api_key": "cp_guess", "service_code": "potholes", "description": "x", "lat": LAT, "long": LON}
    codes = [client_a.post("/open311/v2/requests.json", post).status_code for _ in range(4)]
    assert codes == [403, 403, 403, 429]
    # Reads by key too (and the client's keyed API calls share the budget).
    assert client_a.get("/open311/v2/requests.json", {"api_key": "cp_guess"}).status_code == 429


def test_property_reports_carry_residents_words_only_where_requests_are_public(tenant_a, monkeypatch) -> None:
    # Analysts may be anyone who signed up; a city that stopped publishing its requests
    # must not hand them every resident's report text at an address.
    from analytics.records.selectors import location_records
    from reports.models import Report
    from tests.support.property_data import property_with_records

    home = property_with_records(open_violations=1)
    Report.objects.create(
        description="Water leak, my neighbour J. Doe in 3B",
        address=home.address,
        address_key=home.address_key,
    )
    (row,) = location_records(home.pk)["311"]
    assert row["description"].startswith("Water leak")  # a city publishes by default
    Tenant.objects.filter(pk=tenant_a.pk).update(open311_public_reads=False)
    monkeypatch.setattr(connection.tenant, "open311_public_reads", False)
    (row,) = location_records(home.pk)["311"]
    assert row["description"] == "" and row["address"] == home.address


def test_a_port_the_proxy_appends_does_not_make_each_connection_a_new_client(settings) -> None:
    # Some load balancers write `address:port` into X-Forwarded-For: counted as it is,
    # every connection of one client would have a fresh budget in every per-address limit.
    from django.test import RequestFactory

    from civicpulse.core.ratelimit import client_address, client_rate_key

    settings.TRUSTED_PROXY_HOPS = 1

    def key(forwarded: str) -> str:
        return client_rate_key(
            RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.2")
        )

    assert key("198.51.100.1, 203.0.113.5:4444") == key("203.0.113.5:5555") == "203.0.113.5"
    assert key("[2001:db8:1:2::7]:443") == key("2001:db8:1:2::9") == "2001:db8:1:2::/64"
    assert client_address(RequestFactory().get("/", HTTP_X_FORWARDED_FOR="2001:db8::1")) == "2001:db8::1"
