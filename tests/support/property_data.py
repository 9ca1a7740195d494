"""A few city records at known locations, for the property lookup and report tests:
rows written straight into the record tables (the loaders have tests of their own)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from analytics.records.models import BuildingViolation, Parcel, TaxLienEvent
from reports.addresses import standardise_address
from reports.models import ImportBatch, Location

LAT, LON = 41.8800, -87.6300
PIN = "17-09-100-001-0000"


def location_at(address: str, lat: float, lon: float) -> Location:
    std = standardise_address(address)
    return Location.objects.create(
        address_key=std.key,
        address=address,
        number=std.number,
        direction=std.direction,
        street=std.street,
        street_type=std.street_type,
        unit=std.unit,
        zip=std.zip,
        latitude=lat,
        longitude=lon,
    )


def batch(dataset: str, *, rows: int = 0) -> ImportBatch:
    return ImportBatch.objects.create(
        source_format="chicago",
        file_name=f"{dataset}.csv",
        checksum=dataset.ljust(64, "0")[:64],
        status=ImportBatch.Status.DONE,
        finished_at=timezone.now(),
        rows_read=rows,
        rows_loaded=rows,
        dataset=dataset,
    )


def property_with_records(*, open_violations: int = 6, lien: bool = True) -> Location:
    """12 N Main St 60601 with `open_violations` open building violations (A1 fires from
    5), and a parcel with a lien this year (C1 and C2 fire). Not on the 30th or 31st of
    December, when 364 days ago is this year."""
    location = location_at("12 N Main St, Chicago IL 60601", LAT, LON)
    violations = batch("violations", rows=open_violations)
    today = timezone.localdate()
    for n in range(open_violations):
        BuildingViolation.objects.create(
            source_dataset="chicago:violations",
            source_id=f"v{location.pk}-{n}",
            row_hash=f"h{n}",
            import_batch=violations,
            location=location,
            address=location.address,
            # Half today, half 364 days ago (last year, not yet a year old): the count is
            # not up year over year and none is older than a year, so only A1 fires.
            violation_date=today - timedelta(days=0 if n % 2 else 364),
            code=f"CN{100 + n}",
            status="OPEN",
            description=f"Violation number {n}",
        )
    if lien:
        liens = batch("tax_sales", rows=1)
        Parcel.objects.create(pin="17091000010000", location=location)
        TaxLienEvent.objects.create(
            source_dataset="cook_county:tax_sales",
            source_id=f"t{location.pk}",
            row_hash="t",
            import_batch=liens,
            pin="17091000010000",
            tax_year=today.year,
            event_type="Annual tax sale",
            sold_at_sale=True,
            amount_offered=Decimal("2500.00"),
        )
    return location
