"""The formats a 311 export may come in: for each, the SQL expression of every report
field over the staging table's columns, the columns it cannot do without, and the
source's statuses as issue statuses. `mapped` reads any CSV through a YAML `Mapping`."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from civicpulse.core.sql import compose
from issues.models import IssueStatus

# The report fields every format is mapped to (text until SQL parses them).
COLUMNS = (
    "source_id",
    "created",
    "closed",
    "status",
    "category",
    "description",
    "address",
    "latitude",
    "longitude",
    "parent_id",
    "street_number",
    "street_direction",
    "street_name",
    "street_type",
    "zip",
)

# A format: given a way to name a column of the file (its lower-case header), the SQL
# expression of each report field; fields left out are empty.
Column = Callable[[str], sql.Composable]
Fields = dict[str, sql.Composable]


def _publicstuff(col: Column) -> Fields:
    return {
        "source_id": col("id"),
        "created": col("date created"),
        "status": col("status"),
        "category": col("title"),
        # A resident may leave the description empty: the category they picked says it.
        "description": compose(
            "COALESCE(NULLIF({description}, ''), {title})", description=col("description"), title=col("title")
        ),
        "address": col("address"),
        "latitude": col("latitude"),
        "longitude": col("longitude"),
        "zip": col("zip code"),
    }


def _chicago311(col: Column) -> Fields:
    return {
        "source_id": col("sr_number"),
        "created": col("created_date"),
        "closed": col("closed_date"),
        "status": col("status"),
        "category": col("sr_type"),
        # The portal has no free text: the request type is what the resident asked for.
        "description": col("sr_type"),
        "address": compose(
            "concat_ws(', ', NULLIF({street}, ''), NULLIF({city}, ''), NULLIF({zip}, ''))",
            street=col("street_address"),
            city=col("city"),
            zip=col("zip_code"),
        ),
        "latitude": col("latitude"),
        "longitude": col("longitude"),
        "parent_id": col("parent_sr_number"),
        "street_number": col("street_number"),
        "street_direction": col("street_direction"),
        "street_name": col("street_name"),
        "street_type": col("street_type"),
        "zip": col("zip_code"),
    }


FORMATS: dict[str, Callable[[Column], Fields]] = {
    "publicstuff": _publicstuff,
    "chicago311": _chicago311,
}
MAPPED = "mapped"


@dataclass(frozen=True)
class Mapping:
    """A YAML file mapping any CSV to the report fields:

    source: ourcity     # optional: the source system's name, its own id space
                        # (default: the mapping file's name without .yaml)
    columns:            # report field: the file's column (case does not matter)
      source_id: Request ID
      created: Opened
      closed: Closed          # optional
      status: State           # optional
      category: Type          # optional
      description: Details    # or the category column again
      address: Location       # address, or latitude + longitude, or all three
      latitude: Lat
      longitude: Lon
      parent_id: Duplicate Of # optional
      street_number: No       # optional split address: number, direction,
      street_name: Street     #   name, type, zip
    categories:         # optional: the file's values to the tenant's category codes
      Pothole: potholes
    """

    source: str
    columns: dict[str, str]
    categories: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> "Mapping":
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path.name}: not valid YAML ({exc})") from exc
        columns = {str(k): str(v).strip().lower() for k, v in (data.get("columns") or {}).items()}
        unknown = sorted(set(columns) - set(COLUMNS))
        if unknown:
            raise ValueError(
                f"{path.name}: unknown report fields {', '.join(unknown)}; use {', '.join(COLUMNS)}"
            )
        missing = [f for f in ("source_id", "created", "description") if f not in columns]
        if missing:
            raise ValueError(f"{path.name}: map {', '.join(missing)} to a column")
        if (
            "address" not in columns
            and "street_name" not in columns
            and not {"latitude", "longitude"} <= set(columns)
        ):
            raise ValueError(f"{path.name}: map address, or latitude and longitude")
        source = str(data.get("source") or path.stem)
        if len(source) > 20:
            raise ValueError(
                f"{path.name}: source {source!r} is longer than 20 characters; set a shorter `source:`"
            )
        categories = {str(k): str(v) for k, v in (data.get("categories") or {}).items()}
        return cls(source, columns, categories)

    def fields(self, col: Column) -> Fields:
        return {field: col(column) for field, column in self.columns.items()}


# Source statuses (lower case) to issue statuses; anything else is open.
STATUSES: dict[str, IssueStatus] = {
    "received": IssueStatus.OPEN,
    "open": IssueStatus.OPEN,
    "in progress": IssueStatus.IN_PROGRESS,
    "completed": IssueStatus.RESOLVED,
    "completed - dup": IssueStatus.CLOSED,
    "closed": IssueStatus.CLOSED,
    "canceled": IssueStatus.CLOSED,
    "cancelled": IssueStatus.CLOSED,
}

# Columns a format cannot do without: a file lacking them is the wrong format.
REQUIRED = {
    "publicstuff": ("id", "date created", "title"),
    "chicago311": ("sr_number", "sr_type", "created_date"),
}
