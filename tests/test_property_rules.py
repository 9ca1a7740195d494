"""The property rule engine's three SQL views (analytics/records/sql/): each of the
fifteen rules fires at its boundary and not one step short of it, with its supporting
count and rule version; tiers at their bounds; an edit of a rule is a new version that
the views use at once; the files the views come from equal the migration's frozen copy."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from analytics.records.loader import VIEWS, view_sql
from analytics.records.models import (
    BuildingPermit,
    BuildingViolation,
    FoodInspection,
    Parcel,
    TaxLienEvent,
    VacantBuildingViolation,
)
from analytics.records.rule_models import PropertyRule, PropertyRuleVersion, PropertyTierBound
from analytics.records.rule_services import property_rule_revise, property_tier_bounds_set
from analytics.records.selectors import property_flags, property_score, property_summary
from analytics.sla.models import IssueSla, SlaPolicy
from issues.models import Issue
from reports.models import ImportBatch, Location, Report

_n = iter(range(1, 1_000_000))


class Place:
    """A location and a way to put records at it."""

    def __init__(self) -> None:
        n = next(_n)
        self.location = Location.objects.create(
            address_key=f"{n} test st",
            address=f"{n} Test St",
            number=str(n),
            street="test",
            street_type="st",
            latitude=41.0 + n / 10_000,
            longitude=-87.0,
        )
        self.batch = ImportBatch.objects.create(source_format="test", file_name="t.csv", checksum="0")

    def _common(self) -> dict[str, object]:
        return {
            "source_dataset": "test",
            "source_id": str(next(_n)),
            "row_hash": "h",
            "import_batch": self.batch,
            "location": self.location,
        }

    def violations(self, count: int, *, day: date | None = None, status: str = "OPEN") -> None:
        for _ in range(count):
            BuildingViolation.objects.create(
                **self._common(),
                violation_date=day or timezone.localdate() - timedelta(days=400),
                status=status,
            )

    def inspection(self, *, result: str, risk: str = "Risk 2 (Medium)", days_ago: int = 30) -> None:
        FoodInspection.objects.create(
            **self._common(),
            inspection_date=timezone.localdate() - timedelta(days=days_ago),
            result=result,
            risk_level=risk,
        )

    def permit(self, *, kind: str = "PERMIT - RENOVATION/ALTERATION", days: int | None = None) -> None:
        BuildingPermit.objects.create(
            **self._common(), permit_number=str(next(_n)), permit_type=kind, processing_days=days
        )

    def lien(self, *, year: int, amount: str = "100") -> None:
        pin = f"{self.location.pk:014d}"
        Parcel.objects.get_or_create(pin=pin, defaults={"location": self.location})
        TaxLienEvent.objects.create(
            **{**self._common(), "location": None}, pin=pin, tax_year=year, amount_offered=Decimal(amount)
        )

    def vacant(self, *, due: str) -> None:
        VacantBuildingViolation.objects.create(
            **self._common(), issued_date=date(2012, 1, 1), total_fines=Decimal(due), amount_due=Decimal(due)
        )

    def requests(self, count: int, *, days_ago: int = 10) -> None:
        for _ in range(count):
            Report.objects.create(
                description="Pothole",
                address_key=self.location.address_key,
                status=Report.Status.PROCESSED,
                submitted_at=timezone.now() - timedelta(days=days_ago),
            )

    def issue(self, *, breached: bool) -> None:
        issue = Issue.objects.create(
            title="Broken light", address_key=self.location.address_key, status="open"
        )
        IssueSla.objects.create(
            issue=issue,
            policy=SlaPolicy.objects.first(),
            ack_used=2.0 if breached else 0.1,
            resolve_used=0.1,
            state="breached" if breached else "on_track",
            evaluated_at=timezone.now(),
        )

    @property
    def codes(self) -> list[str]:
        return [f["code"] for f in property_flags(self.location.pk)]

    def flag(self, code: str) -> dict:
        return next(f for f in property_flags(self.location.pk) if f["code"] == code)


THIS_YEAR = timezone.localdate().year

# Each rule: what puts a location exactly at its boundary (`at=True`: the rule fires) or
# one step short of it (`at=False`), with the default thresholds, and the supporting
# count expected when it fires.
BOUNDARIES: dict[str, tuple[Callable[[Place, bool], None], int]] = {
    "A1": (lambda p, at: p.violations(5 if at else 4), 5),
    "A2": (lambda p, at: p.violations(1, day=timezone.localdate() - timedelta(days=366 if at else 365)), 1),
    "A3": (
        lambda p, at: (
            p.violations(1, day=date(THIS_YEAR - 1, 6, 1)),
            p.violations(4 if at else 3, day=date(THIS_YEAR, 1, 2)),
        ),
        4,
    ),
    "A4": (lambda p, at: p.violations(20 if at else 19, status="COMPLIED"), 20),
    "A5": (
        lambda p, at: p.permit(kind="PERMIT - WRECKING/DEMOLITION" if at else "PERMIT - NEW CONSTRUCTION"),
        1,
    ),
    "B1": (lambda p, at: [p.inspection(result="Fail") for _ in range(2 if at else 1)], 2),
    "B2": (
        lambda p, at: (
            p.inspection(result="Fail", risk="Risk 1 (High)", days_ago=900),
            p.inspection(result="Fail" if at else "Pass", risk="Risk 1 (High)", days_ago=5),
        ),
        1,
    ),
    "C1": (lambda p, at: p.lien(year=2010) if at else None, 1),
    "C2": (lambda p, at: p.lien(year=THIS_YEAR - (3 if at else 4)), 1),
    "C3": (lambda p, at: p.lien(year=2010, amount="10000.01" if at else "10000.00"), 1),
    "D1": (lambda p, at: p.vacant(due="0.01" if at else "0"), 1),
    "D2": (lambda p, at: p.vacant(due="1000.01" if at else "1000.00"), 1),
    "D3": (lambda p, at: (p.permit(days=91 if at else 90), p.permit(days=None)), 1),
    "D4": (lambda p, at: p.requests(10 if at else 9), 10),
    "D5": (lambda p, at: (p.issue(breached=at), p.issue(breached=False)), 1),
}


def test_fifteen_rules_installed_for_a_city(tenant_a) -> None:
    assert sorted(PropertyRule.objects.values_list("code", flat=True)) == sorted(BOUNDARIES)
    assert PropertyRuleVersion.objects.filter(version=1).count() == 15
    assert dict(PropertyTierBound.objects.values_list("tier", "min_score")) == {
        "LOW": 0,
        "MODERATE": 3,
        "HIGH": 6,
        "CRITICAL": 10,
    }


@pytest.mark.parametrize("code", list(BOUNDARIES))
def test_rule_fires_at_its_threshold_and_not_one_below(code: str, tenant_a) -> None:
    setup, support = BOUNDARIES[code]
    at, below = Place(), Place()
    setup(at, True)
    setup(below, False)
    assert code in at.codes
    assert code not in below.codes
    flag = at.flag(code)
    rule = PropertyRule.objects.get(code=code)
    assert flag == {
        "code": code,
        "category": code[0],
        "description": rule.description,
        "severity": rule.severity,
        "supporting_count": support,
        "rule_version": 1,
    }


def test_supporting_counts_are_the_records_behind_each_verdict(tenant_a) -> None:
    """C2 counts the lien events within its window, C3 those whose amounts make its total,
    D2 the vacant-building violations whose dues make the fines due (not every event)."""
    place = Place()
    place.lien(year=2010, amount="0")
    place.lien(year=THIS_YEAR - 1, amount="6000")
    place.lien(year=THIS_YEAR - 8, amount="6000")
    place.lien(year=THIS_YEAR, amount="0")
    place.vacant(due="600")
    place.vacant(due="600")
    place.vacant(due="0")
    counts = {f["code"]: f["supporting_count"] for f in property_flags(place.location.pk)}
    assert counts == {"C1": 4, "C2": 2, "C3": 2, "D1": 2, "D2": 2}


def test_a_location_without_records_scores_zero(tenant_a) -> None:
    place = Place()
    assert property_score(place.location.pk) == {"raw_score": 0, "tier": "LOW", "flag_codes": []}
    assert property_flags(place.location.pk) == []
    summary = property_summary(place.location.pk)
    assert (
        summary is not None
        and summary["active_violations"] == 0
        and summary["has_demolition_permit"] is False
    )
    assert property_score(10**9) is None


@pytest.mark.parametrize(
    ("severity", "tier"),
    [
        (2, "LOW"),
        (3, "MODERATE"),
        (5, "MODERATE"),
        (6, "HIGH"),
        (9, "HIGH"),
        (10, "CRITICAL"),
        (40, "CRITICAL"),
    ],
)
def test_tiers_at_their_bounds(severity: int, tier: str, tenant_a) -> None:
    property_rule_revise(rule_id=PropertyRule.objects.get(code="A4").pk, severity=severity)
    place = Place()
    place.violations(20, status="COMPLIED")  # A4 alone fires
    assert property_score(place.location.pk) == {"raw_score": severity, "tier": tier, "flag_codes": ["A4"]}


def test_scores_sum_severities_and_tier_bounds_are_configurable(tenant_a) -> None:
    place = Place()
    place.violations(5, day=timezone.localdate() - timedelta(days=10))  # A1 (3)
    place.violations(3, day=date(THIS_YEAR - 1, 6, 1), status="COMPLIED")  # and not A3
    place.vacant(due="2000")  # D1 (3), D2 (2)
    assert property_score(place.location.pk) == {
        "raw_score": 8,
        "tier": "HIGH",
        "flag_codes": ["A1", "D1", "D2"],
    }
    property_tier_bounds_set(bounds={"CRITICAL": 8})
    assert property_score(place.location.pk)["tier"] == "CRITICAL"
    with pytest.raises(Exception, match="each tier starts above"):
        property_tier_bounds_set(bounds={"HIGH": 9})


def test_a_rule_edit_is_a_new_version_the_views_use(tenant_a) -> None:
    place = Place()
    place.violations(3)
    rule = PropertyRule.objects.get(code="A1")
    assert "A1" not in place.codes
    revised = property_rule_revise(rule_id=rule.pk, threshold=3)
    assert revised.version == 2
    assert list(rule.versions.values_list("version", "threshold")) == [
        (2, Decimal("3.00")),
        (1, Decimal("5.00")),
    ]
    assert place.flag("A1")["rule_version"] == 2
    # A description alone is no new version; deactivating is.
    assert property_rule_revise(rule_id=rule.pk, description="Open violations").version == 2
    assert property_rule_revise(rule_id=rule.pk, active=False).version == 3
    assert "A1" not in place.codes


def test_the_views_are_the_sql_files(tenant_a) -> None:
    frozen = sorted(
        (Path(__file__).resolve().parents[1] / "analytics" / "migrations" / "property_sql").iterdir()
    )[-1]
    for name in VIEWS:
        assert (frozen / f"{name}.sql").read_text(encoding="utf-8").strip() == view_sql(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_views WHERE viewname = ANY(%s)", [list(VIEWS)])
        assert cursor.fetchone()[0] >= 3


def test_a_console_edit_is_a_new_version(client_a, tenant_a) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("prules", "p@example.org", "pw-prules-123456")
    client_a.post("/admin/login/", {"username": "prules", "password": "pw-prules-123456"})
    rule = PropertyRule.objects.get(code="D2")
    form = {
        "description": rule.description,
        "threshold": "2500",
        "years": "",
        "severity": "4",
        "active": "on",
        "versions-TOTAL_FORMS": "1",
        "versions-INITIAL_FORMS": "1",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
        "versions-0-id": str(rule.versions.get().pk),
        "versions-0-rule": str(rule.pk),
    }
    response = client_a.post(f"/admin/analytics/propertyrule/{rule.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert (rule.threshold, rule.severity, rule.version) == (Decimal("2500.00"), 4, 2)
    assert rule.versions.get(version=2).created_by.username == "prules"
    assert client_a.get(f"/admin/analytics/propertyrule/{rule.pk}/change/").status_code == 200
    assert client_a.get("/admin/analytics/propertytierbound/").status_code == 200
    assert client_a.get("/admin/analytics/buildingviolation/").status_code == 200


def test_tier_bounds_are_edited_in_the_console(client_a, tenant_a) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("ptiers", "t@example.org", "pw-ptiers-123456")
    client_a.post("/admin/login/", {"username": "ptiers", "password": "pw-ptiers-123456"})
    high = PropertyTierBound.objects.get(tier="HIGH")
    page = f"/admin/analytics/propertytierbound/{high.pk}/change/"
    # At or past CRITICAL's bound (10): refused on the form, with the reason, nothing saved.
    refused = client_a.post(page, {"min_score": "10"})
    assert refused.status_code == 200
    assert "each tier starts above the one before" in refused.content.decode()
    assert PropertyTierBound.objects.get(tier="HIGH").min_score == 6
    saved = client_a.post(page, {"min_score": "7"})
    assert saved.status_code == 302
    assert PropertyTierBound.objects.get(tier="HIGH").min_score == 7
    place = Place()
    place.violations(20, status="COMPLIED")  # A4 (2)
    place.vacant(due="50")  # D1 (3)
    place.permit(days=91)  # D3 (1): 6, HIGH no more
    assert property_score(place.location.pk) == {
        "raw_score": 6,
        "tier": "MODERATE",
        "flag_codes": ["A4", "D1", "D3"],
    }
