"""The real Chicago and Cook County rows of ../shared/data/chicago/ (each file in the layout
of its year; the README there says where each comes from) load through the built-in
formats with nothing rejected, a second import loads nothing, and the records land at
locations: the vacant-building export, which has no coordinates and omits the street
type, joins the locations the other datasets made."""

from pathlib import Path

import pytest
from django.db import connection

from analytics.records.load import import_records
from analytics.records.models import TaxLienEvent, VacantBuildingViolation
from reports.addresses import standardise_address
from reports.models import Location

CHICAGO = Path(__file__).resolve().parents[2] / "shared" / "data" / "chicago"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHICAGO.is_dir(), reason="the shared Chicago samples are not beside this checkout"
    ),
]

# In load order: the datasets with points first, so that the vacant-building rows (no
# coordinates) and the tax sales (PINs only) find the locations and parcels they name.
FILES = (
    ("building_violations.csv", "violations", None),
    ("building_violations_2023_layout_small.csv", "violations", None),
    ("food_inspections.csv", "inspections", None),
    ("building_permits.csv", "permits", None),
    ("service_requests_311.csv", "311", None),
    ("cook_annual_tax_sale_sample.csv", "tax_sales", "cook_county"),
    ("cook_tax_sale_pin_lists_sample.csv", "tax_sales", "cook_county"),
    ("vacant_buildings_violations.csv", "vacant_buildings", None),
)


def test_the_shared_chicago_files_load_whole_and_once(tenant_a) -> None:
    for name, dataset, fmt in FILES:
        batch = import_records(path=CHICAGO / name, dataset=dataset, fmt=fmt)
        assert batch.status == "done", name
        assert batch.rows_rejected == 0, name
        assert batch.rows_read > 0 and batch.rows_loaded + batch.rows_skipped == batch.rows_read, name
    for name, dataset, fmt in FILES:
        again = import_records(path=CHICAGO / name, dataset=dataset, fmt=fmt)
        assert (again.rows_loaded, again.rows_skipped) == (0, again.rows_read - again.rows_rejected), name
    assert TaxLienEvent.objects.count() == 3 + 35
    # The 2018 vacant-building layout has no coordinates: a row is located when its
    # address names a known location (the street type it omits left aside), and only then.
    vacant = VacantBuildingViolation.objects.all()
    assert vacant.count() > 9_900 and vacant.exclude(location=None).exists()
    streets = {}
    for place in Location.objects.all():
        streets.setdefault((place.number, place.direction, place.street), []).append(place.pk)
    for row in vacant:
        std = standardise_address(row.address)
        known = streets.get((std.number, std.direction, std.street), [])
        expected = Location.objects.filter(address_key=std.key).values_list("pk", flat=True).first() or (
            known[0] if len(known) == 1 else None
        )
        assert row.location_id == expected, row.address
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM property_scores WHERE raw_score > 0")
        assert cursor.fetchone()[0] > 0
