"""Reads of the records and of the rule engine's views: what property reports are built
from. Scores, tiers and flags come from the SQL views only (sql/); nothing here scores."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from analytics.records.models import (
    BuildingPermit,
    BuildingViolation,
    Dataset,
    FoodInspection,
    Parcel,
    TaxLienEvent,
    VacantBuildingViolation,
)
from analytics.records.pins import pin_normalise
from reports.models import ImportBatch, Location, Report
from tenants.selectors import current_tenant

# The record models by dataset name, and each one's date (newest first).
RECORD_MODELS: dict[str, tuple[type[Model], str]] = {
    Dataset.VIOLATIONS: (BuildingViolation, "violation_date"),
    Dataset.INSPECTIONS: (FoodInspection, "inspection_date"),
    Dataset.PERMITS: (BuildingPermit, "issue_date"),
    Dataset.TAX_SALES: (TaxLienEvent, "tax_year"),
    Dataset.VACANT_BUILDINGS: (VacantBuildingViolation, "issued_date"),
}
_FIELDS: dict[str, tuple[str, ...]] = {
    Dataset.VIOLATIONS: (
        "violation_date",
        "code",
        "status",
        "status_date",
        "description",
        "inspection_status",
        "address",
    ),
    Dataset.INSPECTIONS: (
        "inspection_date",
        "business_name",
        "facility_type",
        "risk_level",
        "inspection_type",
        "result",
        "violations",
        "address",
    ),
    Dataset.PERMITS: (
        "permit_number",
        "permit_type",
        "status",
        "application_start_date",
        "issue_date",
        "processing_days",
        "work_description",
        "pins",
        "address",
    ),
    Dataset.TAX_SALES: ("pin", "tax_year", "event_type", "sold_at_sale", "amount_offered"),
    Dataset.VACANT_BUILDINGS: (
        "docket_number",
        "violation_number",
        "issued_date",
        "violation_type",
        "disposition",
        "total_fines",
        "amount_due",
        "address",
    ),
}
_COMMON = ("id", "source_dataset", "source_id", "import_batch_id")


def current_rows(model: type[Model]) -> QuerySet[Any]:
    """Each record's latest row: a correction is a newer row with the same source id."""
    newer = model._default_manager.filter(
        source_dataset=OuterRef("source_dataset"), source_id=OuterRef("source_id"), id__gt=OuterRef("id")
    )
    return model._default_manager.exclude(Exists(newer))


def location_records(location_id: int, limit: int = 50) -> dict[str, list[dict]]:
    """The records at a location by dataset name (violations, inspections, permits, 311,
    tax_sales, vacant_buildings), newest first, at most `limit` of each. Tax sale events
    are those of the location's parcels; 311 requests are the platform's reports at the
    location's address."""
    out: dict[str, list[dict]] = {}
    pins = list(Parcel.objects.filter(location_id=location_id).values_list("pin", flat=True))
    for name, (model, date_field) in RECORD_MODELS.items():
        rows = current_rows(model)
        rows = (
            rows.filter(pin__in=pins) if name == Dataset.TAX_SALES else rows.filter(location_id=location_id)
        )
        fields = (*_COMMON, *_FIELDS[name])
        out[str(name)] = list(rows.order_by(f"-{date_field}", "-id").values(*fields)[:limit])
    key = Location.objects.filter(pk=location_id).values_list("address_key", flat=True).first()
    reports = Report.objects.filter(address_key=key) if key else Report.objects.none()
    requests = [
        dict(row)
        for row in reports.order_by("-submitted_at", "-id").values(
            "id",
            "public_id",  # never the tracking id: that is the reporter's own key
            "source",
            "source_id",
            "import_batch_id",
            "submitted_at",
            "description",
            "address",
        )[:limit]
    ]
    # Analysts may be anyone who signed up: a resident's own words reach them only where
    # the tenant publishes its requests anyway (Open311 reads, docs/security.md). Imported
    # requests (the city's own 311 data) keep theirs.
    if not current_tenant().open311_public_reads:
        for row in requests:
            if row["import_batch_id"] is None:
                row["description"] = ""
    out[str(Dataset.REQUESTS_311)] = requests
    return out


def dataset_freshness() -> dict[str, dict | None]:
    """Each dataset's latest complete batch: when it finished and how many rows it
    loaded; None for a dataset never loaded."""
    out: dict[str, dict | None] = {}
    for dataset in Dataset:
        # 311 requests loaded by `import_reports` itself (format chicago311) count too.
        which = (
            Q(dataset=dataset) | Q(dataset="", source_format="chicago311")
            if dataset == "311"
            else Q(dataset=dataset)
        )
        batch = (
            ImportBatch.objects.filter(which, status=ImportBatch.Status.DONE)
            .order_by("-finished_at", "-id")
            .values("id", "finished_at", "rows_loaded", "source_format")
            .first()
        )
        out[str(dataset)] = (
            None
            if batch is None
            else {
                "batch_id": batch["id"],
                "finished_at": batch["finished_at"],
                "rows_loaded": batch["rows_loaded"],
                "source_format": batch["source_format"],
            }
        )
    return out


def last_complete_batch_start(dataset: str, source_format: str) -> datetime | None:
    """When the latest complete batch of `dataset` in `source_format` started."""
    return (
        ImportBatch.objects.filter(
            dataset=dataset, source_format=source_format, status=ImportBatch.Status.DONE
        )
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )


def parcel_location(pin: str) -> int | None:
    """The location of the parcel `pin` names (dashes allowed), if known."""
    normal = pin_normalise(pin)
    if normal is None:
        return None
    return Parcel.objects.filter(pin=normal).values_list("location_id", flat=True).first()


def _fetch(sql: str, params: list[int], row: Callable[[tuple], dict]) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row(r) for r in cursor.fetchall()]


def property_score(location_id: int) -> dict | None:
    """`property_scores`' row of the location: raw score, tier and firing rule codes;
    None when the location is not known."""
    rows = _fetch(
        "SELECT raw_score, tier, flag_codes FROM property_scores WHERE location_id = %s",
        [location_id],
        lambda r: {"raw_score": r[0], "tier": r[1], "flag_codes": list(r[2])},
    )
    return rows[0] if rows else None


def property_flags(location_id: int) -> list[dict]:
    """The rules firing at the location (`property_flags`), by code."""
    return _fetch(
        "SELECT rule_code, category, description, severity, supporting_count, rule_version"
        " FROM property_flags WHERE location_id = %s ORDER BY rule_code",
        [location_id],
        lambda r: {
            "code": r[0],
            "category": r[1],
            "description": r[2],
            "severity": r[3],
            "supporting_count": r[4],
            "rule_version": r[5],
        },
    )


def property_summary(location_id: int) -> dict | None:
    """`property_location_summary`'s row of the location, by column name."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM property_location_summary WHERE location_id = %s", [location_id])
        row = cursor.fetchone()
        if row is None:
            return None
        return {col.name: value for col, value in zip(cursor.description, row, strict=True)}
