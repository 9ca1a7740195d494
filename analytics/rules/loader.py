"""The rules' SQL: one file per rule, `analytics/rules/sql/<code>.sql`, holding the rule's
query (no statement around it, no semicolon). This module is the one place that reads
them; the reconcile (analytics/rules/services.py) evaluates exactly what they say.

The database also holds each rule as a view (`analytics_rule_<code>`, and their union
`analytics_rule_firing`) for anyone auditing the rules in SQL. Migrations 0005_rule_views
and 0006_repeat_location_planar created them with their SQL inline, and 0009 recreated
repeat_location from a frozen copy under analytics/migrations/rule_sql/; the files here
equal the views as the latest migration left them, and a test (tests/test_rules.py)
compares every view with its file.

To change a rule: edit its file, then add a migration that recreates the view from a
copy of the new query frozen beside it, every placeholder written out, and reads that
copy itself rather than through this module (as 0009 does), so it keeps creating what it
created whatever the file or this loader say later. A new rule also needs
`analytics_rule_firing` recreated with it. The files are plain files of the package,
read from its directory at run time (the app runs from its checkout)."""

from pathlib import Path

from analytics.rules.definitions import RULE_DEFINITIONS
from civicpulse.core.geo import METRES_PER_DEGREE
from issues.statuses import FINISHED_STATUSES_SQL, OPEN_STATUSES_SQL

RULES_SQL_DIR = Path(__file__).resolve().parent / "sql"
# What the files name in braces instead of spelling out facts defined once elsewhere.
_PLACEHOLDERS = {
    "{open_statuses}": OPEN_STATUSES_SQL,
    "{finished_statuses}": FINISHED_STATUSES_SQL,
    "{metres_per_degree}": repr(METRES_PER_DEGREE),
}


def load_rule_sql(name: str, *, directory: Path = RULES_SQL_DIR) -> str:
    """The query of rule `name` from `<directory>/<name>.sql`, its placeholders filled in."""
    text = (directory / f"{name}.sql").read_text(encoding="utf-8")
    for placeholder, value in _PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text.strip().rstrip(";").rstrip()


def rule_firing_sql(*, directory: Path = RULES_SQL_DIR) -> str:
    """Every rule's query in one: the rows `analytics_rule_firing` returns. Each query is
    wrapped on lines of its own, so a comment on its last line ends before the wrapper."""
    return "\nUNION ALL\n".join(
        f"SELECT * FROM (\n{load_rule_sql(code, directory=directory)}\n) AS {code}"
        for code in RULE_DEFINITIONS
    )
