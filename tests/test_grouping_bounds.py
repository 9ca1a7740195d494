"""A tenant's grouping distance is bounded (model, admin form, database), and one report
locks a bounded number of neighbourhood cells however large the distance and wherever
the point: one tenant cannot exhaust the shared database through its grouping radius."""

import zlib

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from issues.geo import MAX_GROUP_RADIUS_M, MAX_LOCK_CELLS, cells_within
from issues.models import Category, GroupingPolicy
from issues.services.grouping import issue_group_report
from tests.support.services import child_database_url


def _group(lat: float, lon: float) -> None:
    issue_group_report(
        text="Streetlight out on the corner",
        summary="",
        category=Category.objects.get(code="potholes"),
        severity="medium",
        latitude=lat,
        longitude=lon,
        address_key="",
        at=timezone.now(),
        report_ref="bounds",
    )


def _advisory_locks_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
        )
        return cursor.fetchone()[0]


def _space() -> int:
    value = zlib.crc32(connection.schema_name.encode())
    return value - (1 << 32) if value >= (1 << 31) else value


def test_the_grouping_distance_is_bounded_in_the_models(tenant_a) -> None:
    policy = GroupingPolicy.objects.get()
    policy.radius_m = MAX_GROUP_RADIUS_M + 1
    with pytest.raises(ValidationError) as raised:
        policy.full_clean()
    assert "radius_m" in raised.value.message_dict
    potholes = Category.objects.get(code="potholes")
    potholes.group_radius_m = 50_000
    with pytest.raises(ValidationError) as raised:
        potholes.full_clean()
    assert "group_radius_m" in raised.value.message_dict
    potholes.group_radius_m = MAX_GROUP_RADIUS_M
    potholes.full_clean()  # the bound itself is allowed


def test_the_database_refuses_a_larger_distance_too(tenant_a) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        GroupingPolicy.objects.update(radius_m=100_000)
    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.filter(code="potholes").update(group_radius_m=MAX_GROUP_RADIUS_M + 1)
    Category.objects.filter(code="potholes").update(group_radius_m=None)  # empty: the policy's


def test_the_admin_form_refuses_a_larger_distance(client_a, tenant_a) -> None:
    get_user_model().objects.create_superuser("boss", "boss@example.org", "pw-for-tests-only")
    client_a.force_login(get_user_model().objects.get(username="boss"))
    policy = GroupingPolicy.objects.get()
    response = client_a.post(
        f"/admin/issues/groupingpolicy/{policy.pk}/change/",
        {
            "radius_m": 50_000,
            "window_hours": 168,
            "min_similarity": 0.1,
            "borderline_low": 0.45,
            "join_score": 0.55,
            "borderline_high": 0.7,
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert f"less than or equal to {MAX_GROUP_RADIUS_M}" in response.content.decode()
    policy.refresh_from_db()
    assert policy.radius_m == 50


@pytest.mark.parametrize("lat", [0.0, 45.0, 60.0, 75.0, 89.9])
def test_the_cells_of_the_largest_radius_are_capped_everywhere(lat: float) -> None:
    cells = cells_within(lat, 10.0, MAX_GROUP_RADIUS_M)
    assert cells is None or 0 < len(cells) <= MAX_LOCK_CELLS


def test_a_far_north_report_with_the_largest_radius_takes_few_locks(tenant_a) -> None:
    GroupingPolicy.objects.update(radius_m=MAX_GROUP_RADIUS_M)
    before = _advisory_locks_held()
    _group(75.0, 10.0)  # about 260 cells without the cap
    taken = _advisory_locks_held() - before
    assert 1 <= taken <= MAX_LOCK_CELLS + 1
    # It took the tenant's grouping lock exclusively: no other grouping of this tenant
    # (which first takes it shared) can start until this one commits.
    other = psycopg.connect(child_database_url(), autocommit=True)
    try:
        assert other.execute("SELECT pg_try_advisory_lock_shared(%s, 0)", [_space()]).fetchone()[0] is False
    finally:
        other.close()


def test_a_small_radius_locks_its_cells_and_shares_the_tenant_lock(tenant_a) -> None:
    before = _advisory_locks_held()
    _group(39.8, -89.64)
    cells = cells_within(39.8, -89.64, 50)
    assert cells is not None
    assert _advisory_locks_held() - before == len(cells) + 1
    other = psycopg.connect(child_database_url(), autocommit=True)
    try:
        space = _space()
        # Another grouping elsewhere may run (shared), a wide one must wait (exclusive).
        assert other.execute("SELECT pg_try_advisory_lock_shared(%s, 0)", [space]).fetchone()[0] is True
        other.execute("SELECT pg_advisory_unlock_shared(%s, 0)", [space])
        assert other.execute("SELECT pg_try_advisory_lock(%s, 0)", [space]).fetchone()[0] is False
    finally:
        other.close()


def test_the_repeat_location_rules_radius_is_bounded_too(tenant_a) -> None:
    """The rule's pairs grow with the square of its radius, as grouping's do."""
    from analytics.rules.models import Rule
    from analytics.rules.services import rule_revise

    rule = Rule.objects.get(code="repeat_location")
    with pytest.raises(ValidationError) as raised:
        rule_revise(rule_id=rule.pk, params={"count": 3, "radius_m": 1_000_000, "days": 30})
    assert f"at most {MAX_GROUP_RADIUS_M}" in str(raised.value)
    assert (
        rule_revise(rule_id=rule.pk, params={"count": 3, "radius_m": MAX_GROUP_RADIUS_M, "days": 30}).version
        == 2
    )
