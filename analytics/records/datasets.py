"""What each record dataset holds: its table, its fields with their kinds (how the
loader parses them from text) and which it cannot do without. The formats
(analytics/records/formats.py) say where each field comes from in a file."""

from dataclasses import dataclass

# The address of a row: always staged (empty when the format has none), standardised into
# a Location key; the columns a dataset's table keeps are its `address_columns`.
ADDRESS_FIELDS = (
    "address",
    "street_number",
    "street_direction",
    "street_name",
    "street_type",
    "zip",
    "latitude",
    "longitude",
)


@dataclass(frozen=True)
class Field:
    name: str
    # text | date | int | number (money: `$1,200.50`) | bool | pin (one PIN) | pins (a list)
    kind: str = "text"
    required: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    table: str
    fields: tuple[Field, ...]
    # The address columns its table has; a dataset without any is located otherwise
    # (tax sales: through the parcel).
    address_columns: tuple[str, ...]
    # Fields computed from others when the file lacks them (SQL over the parsed row `p`,
    # whose parsed values are `<name>_v`).
    derived: tuple[tuple[str, str], ...] = ()

    @property
    def located(self) -> bool:
        return bool(self.address_columns)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


_SPLIT_ADDRESS = ADDRESS_FIELDS
_ONE_LINE = ("address", "zip", "latitude", "longitude")

SPECS: dict[str, DatasetSpec] = {
    "violations": DatasetSpec(
        "violations",
        "analytics_buildingviolation",
        (
            Field("violation_date", "date", required=True),
            Field("code"),
            Field("status"),
            Field("status_date", "date"),
            Field("description"),
            Field("inspection_status"),
        ),
        _SPLIT_ADDRESS,
    ),
    "inspections": DatasetSpec(
        "inspections",
        "analytics_foodinspection",
        (
            Field("business_name"),
            Field("facility_type"),
            Field("risk_level"),
            Field("inspection_date", "date", required=True),
            Field("inspection_type"),
            Field("result"),
            Field("violations"),
        ),
        _ONE_LINE,
    ),
    "permits": DatasetSpec(
        "permits",
        "analytics_buildingpermit",
        (
            Field("permit_number", required=True),
            Field("permit_type"),
            Field("status"),
            Field("application_start_date", "date"),
            Field("issue_date", "date"),
            Field("processing_days", "int"),
            Field("work_description"),
            Field("pins", "pins"),
        ),
        _SPLIT_ADDRESS,
        # Today's layout states the processing time; the older one has only dates.
        derived=(
            (
                "processing_days",
                "COALESCE(p.processing_days_v, CASE WHEN p.issue_date_v >= p.application_start_date_v"
                " THEN p.issue_date_v - p.application_start_date_v END)",
            ),
        ),
    ),
    "tax_sales": DatasetSpec(
        "tax_sales",
        "analytics_taxlienevent",
        (
            Field("pin", "pin", required=True),
            Field("tax_year", "int"),
            Field("event_type"),
            Field("sold_at_sale", "bool"),
            Field("amount_offered", "number"),
        ),
        (),
    ),
    "vacant_buildings": DatasetSpec(
        "vacant_buildings",
        "analytics_vacantbuildingviolation",
        (
            Field("docket_number"),
            Field("violation_number"),
            Field("issued_date", "date", required=True),
            Field("violation_type"),
            Field("disposition"),
            Field("total_fines", "number"),
            Field("amount_due", "number"),
        ),
        ("address", "latitude", "longitude"),
    ),
}
# 311 requests are the platform's own reports (reports.imports, format chicago311).
REQUESTS_311 = "311"
DATASETS = (*SPECS, REQUESTS_311)
