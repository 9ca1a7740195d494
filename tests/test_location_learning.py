"""An address learns its point from staff, from several independent reports that agree,
or from the city's own imports; never from one resident's claim, never outside the
tenant's areas; staff correct it, and each move is recorded."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from issues.services.taxonomy import area_upsert
from reports.addresses import standardise_address
from reports.models import Location, LocationChange, LocationSighting, Report
from reports.services.intake import report_submit
from reports.services.locations import AGREEMENT_RADIUS_M, location_place
from reports.services.staff_edits import report_place

ADDRESS = "12 North Main Street"
KEY = "12 n main st"
PASSWORD = "pw-places-123456"


def _claim(client: str, lat: float = 39.8, lon: float = -89.64, email: str = "") -> Report:
    return report_submit(
        description="Pothole", address=ADDRESS, latitude=lat, longitude=lon, email=email, client=client
    ).report


def _address_only() -> Report:
    return report_submit(description="Pothole again", address="12 N. Main St").report


def test_one_report_cannot_fix_where_an_address_is(tenant_a) -> None:
    _claim("203.0.113.7", lat=40.5, lon=-88.0)  # anyone's claim, far away
    assert not Location.objects.exists()
    later = _address_only()
    assert later.latitude is None and later.needs_placement


def test_three_independent_reports_that_agree_teach_the_address(tenant_a) -> None:
    _claim("203.0.113.1", 39.80000, -89.64000)
    _claim("203.0.113.2", 39.80010, -89.64010)
    assert not Location.objects.exists()
    _claim("203.0.113.3", 39.80005, -89.63995)
    location = Location.objects.get(address_key=KEY)
    assert location.source == "reports"
    assert location.latitude == pytest.approx(39.80005) and location.longitude == pytest.approx(
        -89.64002, abs=1e-5
    )
    assert LocationChange.objects.get(location=location).source == "reports"
    assert not LocationSighting.objects.exists()  # who reported from where is not kept
    assert (_address_only().latitude, _address_only().needs_placement) == (location.latitude, False)


def test_repeats_from_one_source_and_far_apart_points_do_not_agree(tenant_a) -> None:
    for _ in range(3):  # one client, however often
        _claim("198.51.100.9")
    # Different clients, one email: one person.
    _claim("198.51.100.10", email="same@example.org")
    _claim("198.51.100.11", email="SAME@example.org")
    assert not Location.objects.exists()
    # Three clients, but one of them too far from the others.
    _claim("198.51.100.12", 39.8, -89.64 + 3 * AGREEMENT_RADIUS_M / 85_000)
    assert not Location.objects.exists()
    _claim("198.51.100.13", 39.80001, -89.64001)  # a third independent one near the first two
    assert Location.objects.get().source == "reports"


def test_one_ipv6_subscriber_is_one_witness(tenant_a) -> None:
    for n in range(3):  # whichever address of its /64 it picks
        _claim(f"2001:db8:1:2::{n + 1}")
    assert not Location.objects.exists() and LocationSighting.objects.count() == 1
    _claim("2001:db8:1:3::1")
    _claim("2001:db8:1:4::1")
    assert Location.objects.get().source == "reports"


def test_old_witnesses_no_longer_count(tenant_a) -> None:
    from datetime import timedelta

    from django.utils import timezone

    _claim("198.51.100.20")
    LocationSighting.objects.update(seen_at=timezone.now() - timedelta(days=100))
    _claim("198.51.100.21")
    _claim("198.51.100.22")
    assert not Location.objects.exists() and LocationSighting.objects.count() == 2


def test_points_outside_the_tenants_areas_teach_nothing(tenant_a) -> None:
    ring = [[-89.7, 39.7], [-89.6, 39.7], [-89.6, 39.9], [-89.7, 39.9], [-89.7, 39.7]]
    area_upsert(code="town", name="Town", boundary={"type": "Polygon", "coordinates": [ring]})
    for n in range(3):
        _claim(f"192.0.2.{n}", 41.0, -87.0)
    assert not Location.objects.exists() and not LocationSighting.objects.exists()
    std = standardise_address(ADDRESS)
    with pytest.raises(ValidationError):
        location_place(address_key=KEY, std=std, address=ADDRESS, latitude=41.0, longitude=-87.0, actor=None)


def test_staff_placement_corrects_a_known_point_and_is_recorded(tenant_a) -> None:
    staff = get_user_model().objects.create_user("placer", is_staff=True)
    for n in range(3):
        _claim(f"192.0.2.{10 + n}", 39.75, -89.70)  # an agreed but wrong point
    report = _address_only()
    assert report.latitude == pytest.approx(39.75)
    report_place(report_id=report.pk, latitude=39.8, longitude=-89.64, actor=staff)
    location = Location.objects.get(address_key=KEY)
    assert (location.latitude, location.longitude, location.source) == (39.8, -89.64, "staff")
    change = LocationChange.objects.filter(location=location).first()
    assert (change.from_latitude, change.to_latitude, change.actor, change.source) == (
        pytest.approx(39.75),
        39.8,
        staff,
        "staff",
    )
    # Reports no longer move it, however many agree.
    for n in range(3):
        _claim(f"192.0.2.{20 + n}", 39.70, -89.60)
    assert Location.objects.get(address_key=KEY).latitude == 39.8


def test_staff_correct_an_address_in_the_console(client_a, tenant_a) -> None:
    get_user_model().objects.create_superuser("console", "c@example.org", PASSWORD)
    client_a.post("/admin/login/?next=/admin/", {"username": "console", "password": PASSWORD})
    location = Location.objects.create(
        address=ADDRESS, address_key=KEY, latitude=39.7, longitude=-89.7, source="reports"
    )
    response = client_a.post(
        f"/admin/reports/location/{location.pk}/change/",
        {
            "latitude": "39.8",
            "longitude": "-89.64",
            "changes-TOTAL_FORMS": "0",
            "changes-INITIAL_FORMS": "0",
            "changes-MIN_NUM_FORMS": "0",
            "changes-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    location.refresh_from_db()
    assert (location.latitude, location.longitude, location.source) == (39.8, -89.64, "staff")
    change = LocationChange.objects.get(location=location)
    assert (change.from_latitude, change.actor.username) == (39.7, "console")
