"""The rule engine's SQL: one file per view in `analytics/records/sql/`, holding the
view's query (no statement around it). The views (`property_location_summary`,
`property_flags`, `property_scores`) are created in each tenant schema by a migration
from a frozen copy of these files under analytics/migrations/property_sql/<migration>/,
read by the migration itself (as analytics/migrations/0009 does), so a migration keeps
creating what it created whatever the files say later; a test compares the files with
the latest frozen copy. To change a view: edit its file, copy the three files to a new
folder beside a new migration that recreates them."""

from pathlib import Path

from issues.statuses import OPEN_STATUSES_SQL

SQL_DIR = Path(__file__).resolve().parent / "sql"
# The views in the order they are created (each reads the one before).
VIEWS = ("property_location_summary", "property_flags", "property_scores")
_PLACEHOLDERS = {"{open_statuses}": OPEN_STATUSES_SQL}


def view_sql(name: str, *, directory: Path = SQL_DIR) -> str:
    """The query of view `name`, its placeholders filled in."""
    text = (directory / f"{name}.sql").read_text(encoding="utf-8")
    for placeholder, value in _PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text.strip().rstrip(";").rstrip()
