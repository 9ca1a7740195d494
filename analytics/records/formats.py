"""The layouts record files come in. `chicago` (the City of Chicago's data portal) and
`cook_county` (the Cook County Treasurer's tax sale exports) are mapped by header name,
each field from the first of its known column names the file has, so that both older
exports and today's (with split address and region columns, or the API's snake_case
names) load. `mapped` reads any CSV through a YAML `RecordMapping`. Header names are
compared lower case, with runs of spaces and underscores as one space."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from analytics.records.datasets import ADDRESS_FIELDS, SPECS, DatasetSpec
from civicpulse.core.sql import compose
from reports.imports.formats import Column

Fields = dict[str, sql.Composable]
MAPPED = "mapped"


def header_name(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower()).strip()


class Columns:
    """The file's columns by header name: `pick` is the first of the names the file has
    that is not empty on the row."""

    def __init__(self, header: list[str], col: Column) -> None:
        self.header = set(header)
        self.col = col

    def has(self, *names: str) -> bool:
        return any(n in self.header for n in names)

    def pick(self, *names: str) -> sql.Composable:
        present = [n for n in names if n in self.header]
        if not present:
            return sql.SQL("''")
        if len(present) == 1:
            return self.col(present[0])
        return compose(
            "COALESCE({parts}, '')",
            parts=sql.SQL(", ").join(compose("NULLIF({c}, '')", c=self.col(n)) for n in present),
        )


def _address(c: Columns) -> Fields:
    return {
        "street_number": c.pick("street number"),
        "street_direction": c.pick("street direction"),
        "street_name": c.pick("street name"),
        "street_type": c.pick("street type", "suffix"),
        "zip": c.pick("zip code", "zip"),
        "latitude": c.pick("latitude"),
        "longitude": c.pick("longitude"),
    }


def _chicago_violations(c: Columns) -> Fields:
    return {
        **_address(c),
        "source_id": c.pick("id"),
        "violation_date": c.pick("violation date"),
        "code": c.pick("violation code"),
        "status": c.pick("violation status"),
        "status_date": c.pick("violation status date"),
        "description": c.pick("violation description"),
        "inspection_status": c.pick("inspection status"),
        "address": c.pick("address"),
    }


def _chicago_inspections(c: Columns) -> Fields:
    return {
        **_address(c),
        "source_id": c.pick("inspection id"),
        "business_name": c.pick("dba name", "aka name"),
        "facility_type": c.pick("facility type"),
        "risk_level": c.pick("risk"),
        "inspection_date": c.pick("inspection date"),
        "inspection_type": c.pick("inspection type"),
        "result": c.pick("results"),
        "violations": c.pick("violations"),
        "address": c.pick("address"),
    }


def _chicago_permits(c: Columns) -> Fields:
    number = c.pick("permit#", "permit", "permit number")
    pins = [f"pin{n}" for n in range(1, 11)] + ["pin list", "pins"]
    pin_parts: list[sql.Composable] = [compose("NULLIF({c}, '')", c=c.col(n)) for n in pins if c.has(n)]
    address = _address(c)
    return {
        **address,
        "source_id": number,
        "permit_number": number,
        "permit_type": c.pick("permit type"),
        "status": c.pick("permit status", "status"),
        "application_start_date": c.pick("application start date"),
        "issue_date": c.pick("issue date"),
        "processing_days": c.pick("processing time"),
        "work_description": c.pick("work description"),
        "pins": compose(
            "concat_ws('|', {parts})",
            parts=sql.SQL(", ").join(pin_parts or [sql.SQL("''")]),
        ),
        # The older layout has no one-line address: it is written from its parts.
        "address": c.pick("address")
        if c.has("address")
        else compose(
            "concat_ws(' ', NULLIF({n}, ''), NULLIF({d}, ''), NULLIF({s}, ''), NULLIF({t}, ''))",
            n=address["street_number"],
            d=address["street_direction"],
            s=address["street_name"],
            t=address["street_type"],
        ),
    }


def _chicago_vacant(c: Columns) -> Fields:
    return {
        **_address(c),
        "source_id": c.pick("violation number", "docket number"),
        "docket_number": c.pick("docket number"),
        "violation_number": c.pick("violation number"),
        "issued_date": c.pick("issued date"),
        "violation_type": c.pick("violation type"),
        "disposition": c.pick("disposition description", "disposition"),
        "total_fines": c.pick("total fines"),
        "amount_due": c.pick("current amount due", "amount due"),
        "address": c.pick("property address", "address"),
    }


def _cook_tax_sales(c: Columns) -> Fields:
    # The yearly sold / forfeited / no-bid PIN lists say which in their dataset's name.
    listed = c.pick("dataset name")
    return {
        # No id of their own: the loader hashes the row's fields.
        "pin": c.pick("pin", "property index number"),
        "tax_year": c.pick("tax sale year", "tax year", "to year"),
        "event_type": compose(
            "COALESCE(NULLIF({kind}, ''), NULLIF({listed}, ''), {default})",
            kind=c.pick("lien type", "sale type"),
            listed=listed,
            default=sql.Literal("Scavenger Tax Sale" if c.has("from year") else "Annual Tax Sale"),
        ),
        "sold_at_sale": compose(
            "COALESCE(NULLIF({sold}, ''), CASE WHEN {listed} ILIKE '%%sold%%' THEN 'true'"
            " WHEN {listed} ILIKE '%%forfeit%%' OR {listed} ILIKE '%%no bid%%' THEN 'false' ELSE '' END)",
            sold=c.pick("sold at sale"),
            listed=listed,
        ),
        "amount_offered": c.pick(
            "total tax and penalty amount offered",
            "tax amount offered",
            "total amount paid",
            "amount offered",
        ),
    }


FORMATS: dict[str, dict[str, Callable[[Columns], Fields]]] = {
    "chicago": {
        "violations": _chicago_violations,
        "inspections": _chicago_inspections,
        "permits": _chicago_permits,
        "vacant_buildings": _chicago_vacant,
    },
    "cook_county": {"tax_sales": _cook_tax_sales},
}
# Columns (any one of each group) a file must have to be taken for the format.
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "violations": (("violation date",), ("id",)),
    "inspections": (("inspection date",), ("inspection id",)),
    "permits": (("permit#", "permit", "permit number"),),
    "vacant_buildings": (("issued date",), ("violation number", "docket number")),
    "tax_sales": (("pin", "property index number"),),
}


@dataclass(frozen=True)
class RecordMapping:
    """A YAML file mapping any CSV to a dataset's fields:

    dataset: violations   # optional: the dataset the mapping is for (checked)
    source: ourcity-bv    # optional: the source's name, its own id space
                          # (default: the mapping file's name without .yaml)
    columns:              # field: the file's column (case does not matter)
      source_id: Case Number        # optional: without it each row's fields are hashed
      violation_date: Date Issued
      address: Site Address         # address, or latitude + longitude, or all three
      latitude: Y
      longitude: X
    """

    source: str
    dataset: str | None
    columns: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> "RecordMapping":
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path.name}: not valid YAML ({exc})") from exc
        columns = {str(k): header_name(str(v)) for k, v in (data.get("columns") or {}).items()}
        source = str(data.get("source") or path.stem)
        if len(source) > 50:
            raise ValueError(f"{path.name}: source {source!r} is longer than 50 characters")
        dataset = data.get("dataset")
        return cls(source, str(dataset) if dataset else None, columns)

    def check(self, spec: DatasetSpec) -> None:
        if self.dataset and self.dataset != spec.name:
            raise ValueError(f"the mapping is for {self.dataset}, not {spec.name}")
        known = {"source_id", *(f.name for f in spec.fields), *spec.address_columns}
        if spec.name == "permits":
            known |= set(ADDRESS_FIELDS)
        unknown = sorted(set(self.columns) - known)
        if unknown:
            raise ValueError(
                f"unknown {spec.name} fields {', '.join(unknown)}; use {', '.join(sorted(known))}"
            )
        missing = [f.name for f in spec.fields if f.required and f.name not in self.columns]
        if missing:
            raise ValueError(f"map {', '.join(missing)} to a column")
        if spec.located and not (
            {"address", "street_name"} & set(self.columns) or {"latitude", "longitude"} <= set(self.columns)
        ):
            raise ValueError("map address, or latitude and longitude")

    def fields(self, c: Columns) -> Fields:
        return {field: c.pick(column) for field, column in self.columns.items()}


def format_fields(fmt: str, dataset: str, c: Columns, mapping: RecordMapping | None) -> Fields:
    """The SQL of each field of `dataset` in format `fmt` over the staged file."""
    if fmt == MAPPED:
        if mapping is None:
            raise ValueError("the mapped format needs a mapping file (--mapping FILE.yaml)")
        mapping.check(SPECS[dataset])
        return mapping.fields(c)
    layouts = FORMATS.get(fmt)
    if layouts is None:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join([*FORMATS, MAPPED])}")
    if dataset not in layouts:
        known = [f for f, layout in FORMATS.items() if dataset in layout]
        raise ValueError(f"the {fmt} format has no {dataset} layout; use {', '.join([*known, MAPPED])}")
    missing = [group for group in REQUIRED[dataset] if not c.has(*group)]
    if missing:
        names = " / ".join(" or ".join(group) for group in missing)
        raise ValueError(f"the file has no column {names}: is it a {fmt} {dataset} file?")
    return layouts[dataset](c)
