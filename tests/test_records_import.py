"""City-records loaders (analytics.records): each dataset in its built-in layouts, older
and current, and through a YAML mapping; rejected rows with their reasons; re-imports
that load nothing twice and corrections that load as new rows; parcels from permits and
tax sales; the command's summary line. Fixtures: tests/fixtures/records/."""

from pathlib import Path

import pytest
from django.core.management import call_command

from analytics.records.load import import_records
from analytics.records.models import (
    BuildingPermit,
    BuildingViolation,
    FoodInspection,
    Parcel,
    TaxLienEvent,
    VacantBuildingViolation,
)
from analytics.records.pins import pin_normalise
from analytics.records.selectors import dataset_freshness, location_records, parcel_location
from reports.models import ImportBatch, Location, RejectedRow, Report

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "records"

pytestmark = pytest.mark.django_db(transaction=False)


def _load(name: str, dataset: str, **kw: object) -> ImportBatch:
    return import_records(path=FIXTURES / name, dataset=dataset, **kw)


def _reasons(batch: ImportBatch) -> dict[str, str]:
    return {r.source_id: r.reason for r in RejectedRow.objects.filter(batch=batch)}


def test_violations_2015_layout(tenant_a) -> None:
    batch = _load("violations_2015.csv", "violations")
    assert (batch.rows_read, batch.rows_loaded, batch.rows_rejected, batch.rows_skipped) == (5, 2, 3, 0)
    assert batch.dataset == "violations" and batch.source_format == "chicago"
    reasons = _reasons(batch)
    assert reasons["5063900"] == "unreadable violation date: 02/30/2015"
    assert reasons["5063901"] == "no violation date"
    assert reasons["5063902"] == "no point and no address"
    v = BuildingViolation.objects.get(source_id="5063806")
    assert str(v.violation_date) == "2015-05-21" and str(v.status_date) == "2015-06-01"
    assert (
        v.status == "COMPLIED" and v.source_dataset == "chicago:violations" and v.import_batch_id == batch.pk
    )
    location = Location.objects.get(pk=v.location_id)
    assert location.address_key == "8214 s langley ave"
    assert location.parse_confidence == "HIGH"
    assert BuildingViolation.objects.get(source_id="5063801").location_id == location.pk


def test_violations_2023_layout_builds_locations_from_split_columns(tenant_a) -> None:
    batch = _load("violations_2023.csv", "violations")
    assert (batch.rows_loaded, batch.rows_rejected) == (2, 1)
    assert _reasons(batch)["7042417"].startswith("unreadable coordinates: x41.8")
    v = BuildingViolation.objects.get(source_id="7042416")
    assert (v.street_number, v.street_direction, v.street_name, v.street_type) == ("3120", "W", "26TH", "ST")
    assert str(v.violation_date) == "2023-09-16"  # M/D/YY
    location = Location.objects.get(pk=v.location_id)
    assert (location.address_key, location.parse_confidence) == ("3120 w 26th st", "HIGH")


def test_reimport_loads_nothing_twice_and_a_correction_is_a_new_row(tenant_a, tmp_path) -> None:
    first = _load("violations_2015.csv", "violations")
    again = _load("violations_2015.csv", "violations")
    assert (again.rows_read, again.rows_loaded, again.rows_rejected, again.rows_skipped) == (5, 0, 3, 2)
    assert BuildingViolation.objects.count() == 2
    # The portal closes a violation: the same id with a new status is a correction.
    text = (
        (FIXTURES / "violations_2015.csv")
        .read_text()
        .replace(
            "5063801,05/21/2015,05/21/2015,CN190029,OPEN", "5063801,05/21/2015,05/21/2015,CN190029,COMPLIED"
        )
    )
    corrected = tmp_path / "violations.csv"
    corrected.write_text(text)
    batch = import_records(path=corrected, dataset="violations")
    assert (batch.rows_loaded, batch.rows_skipped) == (1, 1)
    rows = list(BuildingViolation.objects.filter(source_id="5063801").order_by("id"))
    assert [(r.status, r.import_batch_id) for r in rows] == [("OPEN", first.pk), ("COMPLIED", batch.pk)]
    # Reads see the latest row of each record.
    latest = location_records(rows[0].location_id)["violations"]
    assert sorted(r["status"] for r in latest) == ["COMPLIED", "COMPLIED"]


def test_inspections(tenant_a) -> None:
    batch = _load("inspections.csv", "inspections")
    assert (batch.rows_loaded, batch.rows_rejected) == (2, 1)
    assert _reasons(batch)["2363110"] == "unreadable inspection date: yesterday"
    fail = FoodInspection.objects.get(source_id="2363149")
    assert (fail.business_name, fail.risk_level, fail.result, fail.zip) == (
        "AMIGOS SALUDABLES",
        "Risk 1 (High)",
        "Fail",
        "60639",
    )
    assert str(FoodInspection.objects.get(source_id="2363109").inspection_date) == "2020-03-03"  # ISO
    assert Location.objects.get(pk=fail.location_id).address_key == "4001 w fullerton ave"


def test_permits_older_layout_with_pins_and_parcels(tenant_a) -> None:
    batch = _load("permits_2016.csv", "permits")
    assert (batch.rows_loaded, batch.rows_rejected) == (2, 1)
    assert RejectedRow.objects.get(batch=batch).reason == "no source id"
    crane = BuildingPermit.objects.get(permit_number="100637362")
    # Padded headers (`  PERMIT_TYPE`) are read; a 10-digit PIN gains 0000.
    assert crane.permit_type == "PERMIT - NEW CONSTRUCTION"
    assert sorted(crane.pins) == ["17044350190000", "17044350200000"]
    assert crane.address == "1118 N STATE ST"
    assert parcel_location("17-04-435-019-0000") == crane.location_id
    assert parcel_location("17-04-435-020") == crane.location_id
    assert crane.processing_days is None  # no application date in this layout


def test_permits_current_layout_processing_days(tenant_a) -> None:
    batch = _load("permits_current.csv", "permits")
    assert (batch.rows_loaded, batch.rows_rejected) == (2, 0)
    stated = BuildingPermit.objects.get(permit_number="101000001")
    assert (stated.status, stated.processing_days) == ("COMPLETE", 100)
    assert sorted(stated.pins) == ["17044350190000", "17044350210000"]
    derived = BuildingPermit.objects.get(permit_number="101000002")
    assert derived.processing_days == 10  # issue date minus application start
    assert Location.objects.get(pk=derived.location_id).address_key == "7 s dearborn st"


def test_tax_sales_located_through_parcels(tenant_a) -> None:
    _load("permits_2016.csv", "permits")
    batch = _load("tax_annual_sale.csv", "tax_sales", fmt="cook_county")
    assert (batch.rows_loaded, batch.rows_rejected) == (2, 1)
    assert list(RejectedRow.objects.filter(batch=batch).values_list("reason", flat=True)) == [
        "unreadable pin: 01-01-109"
    ]
    sold = TaxLienEvent.objects.get(pin="17044350190000")
    assert (sold.tax_year, sold.sold_at_sale, str(sold.amount_offered)) == (2012, True, "15806.57")
    assert sold.event_type == "Annual Tax Sale"
    assert sold.location_id == BuildingPermit.objects.get(permit_number="100637362").location_id
    assert TaxLienEvent.objects.get(pin="01011090010000").location_id is None
    assert Parcel.objects.filter(pin="01011090010000", location=None).exists()
    again = _load("tax_annual_sale.csv", "tax_sales", fmt="cook_county")
    assert (again.rows_loaded, again.rows_skipped) == (0, 2)  # rows without ids: their hash


def test_tax_sale_pin_lists_and_parcel_located_later(tenant_a) -> None:
    batch = _load("tax_pin_lists.csv", "tax_sales")
    assert batch.rows_loaded == 2
    forfeited = TaxLienEvent.objects.get(pin="14331000010000")
    assert (forfeited.tax_year, forfeited.sold_at_sale) == (2010, False)
    assert "Forfeited" in forfeited.event_type and forfeited.location_id is None
    # A later permit names the parcel: the lien is now at its location (through the parcel).
    _load("permits_2016.csv", "permits")
    wrecking = BuildingPermit.objects.get(permit_number="100637363")
    assert parcel_location("14-33-100-001-0000") == wrecking.location_id
    assert [r["pin"] for r in location_records(wrecking.location_id)["tax_sales"]] == ["14331000010000"]


def test_vacant_buildings(tenant_a) -> None:
    _load("violations_2015.csv", "violations")  # 8214 S LANGLEY AVE becomes a location
    batch = _load("vacant_2018.csv", "vacant_buildings")
    assert (batch.rows_loaded, batch.rows_rejected) == (2, 1)
    assert _reasons(batch)["11DR286649"] == "unreadable amount due: lots"
    due = VacantBuildingViolation.objects.get(violation_number="11DR279704")
    assert (str(due.total_fines), str(due.amount_due), due.docket_number) == (
        "1500.00",
        "1500.00",
        "11BS01063A",
    )
    assert Location.objects.get(pk=due.location_id).address_key == "8214 s langley ave"
    # No point and no known location at that address: kept, unlocated.
    assert VacantBuildingViolation.objects.get(violation_number="11DR286648").location_id is None


def _place(key: str, street_type: str) -> Location:
    number, direction, street = key.split()[:3]
    return Location.objects.create(
        address_key=f"{key} {street_type}",
        address=f"{key} {street_type}".upper(),
        number=number,
        direction=direction,
        street=street,
        street_type=street_type,
        latitude=41.77,
        longitude=-87.7,
    )


def test_vacant_building_without_street_type_joins_the_one_location_of_that_street(tenant_a) -> None:
    kolin = _place("6738 s kolin", "ave")
    _load("vacant_2018.csv", "vacant_buildings")
    assert VacantBuildingViolation.objects.get(violation_number="11DR286648").location_id == kolin.pk


def test_vacant_building_address_matching_two_locations_stays_unlocated(tenant_a) -> None:
    _place("6738 s kolin", "ave")
    _place("6738 s kolin", "st")
    _load("vacant_2018.csv", "vacant_buildings")
    assert VacantBuildingViolation.objects.get(violation_number="11DR286648").location_id is None


def test_311_delegates_to_the_report_import(tenant_a) -> None:
    batch = _load("service_requests_311.csv", "311")
    assert (batch.dataset, batch.rows_loaded, batch.rows_rejected) == ("311", 2, 1)
    report = Report.objects.get(source_id="SR21-00000001")
    location = Location.objects.get(address_key=report.address_key)
    assert location.parse_confidence == "HIGH"
    requests = location_records(location.pk)["311"]
    assert [r["source_id"] for r in requests] == ["SR21-00000001"]
    # Analysts see the request's public id, never the tracking id (the reporter's own key).
    assert "tracking_id" not in requests[0] and requests[0]["public_id"] == report.public_id


def test_mapped_format(tenant_a) -> None:
    batch = _load(
        "ourcity_violations.csv",
        "violations",
        fmt="mapped",
        mapping_path=FIXTURES / "ourcity_violations.yaml",
    )
    assert (batch.rows_loaded, batch.rows_rejected) == (2, 1)
    assert BuildingViolation.objects.get(source_id="OC-1").source_dataset == "ourcity-bv"
    with pytest.raises(ValueError, match="mapping is for violations"):
        _load(
            "ourcity_violations.csv",
            "permits",
            fmt="mapped",
            mapping_path=FIXTURES / "ourcity_violations.yaml",
        )


def test_wrong_file_or_format_is_refused_before_a_batch(tenant_a) -> None:
    with pytest.raises(ValueError, match="no column"):
        _load("inspections.csv", "violations")
    with pytest.raises(ValueError, match="no tax_sales layout"):
        _load("tax_annual_sale.csv", "tax_sales", fmt="chicago")
    assert not ImportBatch.objects.exists()


def test_freshness(tenant_a) -> None:
    assert dataset_freshness()["violations"] is None
    batch = _load("violations_2015.csv", "violations")
    fresh = dataset_freshness()
    assert fresh["violations"]["rows_loaded"] == 2 and fresh["violations"]["finished_at"] == batch.finished_at
    assert fresh["permits"] is None and set(fresh) == {
        "violations",
        "inspections",
        "permits",
        "311",
        "tax_sales",
        "vacant_buildings",
    }


def test_command_prints_the_summary_line(tenant_a, capsys) -> None:
    call_command("import_records", "alpha", str(FIXTURES / "inspections.csv"), "--dataset", "inspections")
    assert capsys.readouterr().out.strip() == "read 3, loaded 2, rejected 1, skipped 0 (already imported)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("17-04-435-019-0000", "17044350190000"),
        ("17044350190000", "17044350190000"),
        (" 17-04-435-019 ", "17044350190000"),
        ("1704435019", "17044350190000"),
        ("17-04-435", None),
        ("17 04 435 019 0000", None),
        ("17--04-435-019-0000", None),
        ("1704435019000A", None),
        ("", None),
        (None, None),
    ],
)
def test_pin_normalise(value: str | None, expected: str | None, tenant_a) -> None:
    assert pin_normalise(value) == expected
    if value is not None:
        # The loaders' own SQL function (analytics.records.checks) says the same.
        from django.db import connection

        from analytics.records.checks import functions_create
        from civicpulse.core.sql import run

        with connection.cursor() as cursor:
            run(cursor, "CREATE SCHEMA {work}", work="pin_check")
            functions_create(cursor, "pin_check")
            cursor.execute("SELECT pin_check.rec_pin(%s)", [value])
            assert cursor.fetchone()[0] == expected


def test_311_freshness_counts_the_report_import_too(tenant_a) -> None:
    from reports.imports.load import import_reports

    assert dataset_freshness()["311"] is None
    result = import_reports(path=FIXTURES / "service_requests_311.csv", fmt="chicago311")
    assert dataset_freshness()["311"]["batch_id"] == result.batch.pk


def test_permits_without_pin_columns(tenant_a, tmp_path) -> None:
    path = tmp_path / "permits.csv"
    path.write_text(
        "PERMIT#,PERMIT_TYPE,ISSUE_DATE,ADDRESS,LATITUDE,LONGITUDE\n1,PERMIT - SIGNS,01/02/2020,5 N STATE ST,41.88,-87.63\n"
    )
    batch = import_records(path=path, dataset="permits")
    assert batch.rows_loaded == 1 and BuildingPermit.objects.get(permit_number="1").pins == []


@pytest.mark.parametrize(
    ("name", "dataset", "fmt"),
    [
        ("violations_2015.csv", "violations", None),
        ("violations_2023.csv", "violations", None),
        ("inspections.csv", "inspections", None),
        ("permits_2016.csv", "permits", None),
        ("permits_current.csv", "permits", None),
        ("service_requests_311.csv", "311", None),
        ("tax_annual_sale.csv", "tax_sales", "cook_county"),
        ("tax_pin_lists.csv", "tax_sales", "cook_county"),
        ("vacant_2018.csv", "vacant_buildings", None),
    ],
)
def test_each_loader_reimported_loads_nothing_twice(
    name: str, dataset: str, fmt: str | None, tenant_a
) -> None:
    first = _load(name, dataset, fmt=fmt)
    assert first.rows_loaded > 0 and first.dataset == dataset
    again = _load(name, dataset, fmt=fmt)
    # The same rows rejected again, each good row skipped, nothing new in the tables.
    assert (again.rows_read, again.rows_rejected) == (first.rows_read, first.rows_rejected)
    assert (again.rows_loaded, again.rows_skipped) == (0, first.rows_loaded + first.rows_skipped)
    assert again.status == first.status == ImportBatch.Status.DONE
    rejected = sorted(RejectedRow.objects.filter(batch=again).values_list("source_id", "reason"))
    assert rejected == sorted(RejectedRow.objects.filter(batch=first).values_list("source_id", "reason"))


def test_a_records_batch_and_its_rejected_rows_are_in_the_console(client_a, tenant_a) -> None:
    import csv

    from django.contrib.auth import get_user_model

    batch = _load("vacant_2018.csv", "vacant_buildings")
    get_user_model().objects.create_superuser("recs", "r@example.org", "pw-records-123456")
    client_a.post("/admin/login/?next=/admin/", {"username": "recs", "password": "pw-records-123456"})
    listing = client_a.get("/admin/reports/importbatch/").content.decode()
    assert "vacant_2018.csv" in listing and f"{batch.pk}/rejected.csv" in listing
    response = client_a.get(f"/admin/reports/importbatch/{batch.pk}/rejected.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(response.content.decode().splitlines()))
    # The row kept whole (every column of the file, by its name), with its line and reason.
    assert rows[0][:3] == ["line", "source_id", "reason"] and len(rows[0]) == 3 + 17
    assert [(r[1], r[2]) for r in rows[1:]] == [("11DR286649", "unreadable amount due: lots")]
    kept = dict(zip(rows[0], rows[1], strict=True))
    assert (kept["docket number"], kept["current amount due"]) == ("11BS02905A", "lots")


def test_vacant_buildings_current_layout_with_points_and_piped_violations(tenant_a) -> None:
    """Since 2021 the portal writes one row per docket (its violations joined by pipes),
    with coordinates, in the API's snake_case names: each row's point makes its location."""
    from analytics.records.selectors import property_flags

    batch = _load("vacant_current.csv", "vacant_buildings")
    assert (batch.rows_loaded, batch.rows_rejected) == (2, 0)
    docket = VacantBuildingViolation.objects.get(docket_number="22BS00123A")
    assert docket.violation_number == "22DR000101|22DR000102" and docket.source_id == docket.violation_number
    assert (str(docket.total_fines), str(docket.amount_due), str(docket.issued_date)) == (
        "2000.00",
        "1500.00",
        "2022-03-14",
    )
    assert docket.disposition == "Liable - Default" and docket.latitude == 41.7626
    location = Location.objects.get(pk=docket.location_id)
    assert (location.address_key, location.latitude, location.parse_confidence) == (
        "1417 w 72nd pl",
        41.7626,
        "HIGH",
    )
    # An amount still due (D1) and above $1,000 (D2).
    assert [f["code"] for f in property_flags(location.pk)] == ["D1", "D2"]


def test_a_load_leaves_the_planner_statistics_current(tenant_a) -> None:
    """A table analysed while it held only a failed load's dead rows is planned as holding
    one row, whatever it holds later, and the whole-table views then run for minutes: a
    load that grows its table analyses it (the new locations' table too)."""
    from django.db import connection, transaction

    def estimates() -> dict[str, float]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, reltuples FROM pg_class WHERE oid IN"
                " ('analytics_buildingviolation'::regclass, 'reports_location'::regclass)"
            )
            return dict(cursor.fetchall())

    with pytest.raises(RuntimeError), transaction.atomic():
        _load("violations_2015.csv", "violations")
        raise RuntimeError("the load fails after its rows were written")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analytics_buildingviolation; ANALYZE reports_location")
    assert estimates() == {"analytics_buildingviolation": 0.0, "reports_location": 0.0}
    _load("violations_2015.csv", "violations")
    assert estimates() == {"analytics_buildingviolation": 2.0, "reports_location": 1.0}
