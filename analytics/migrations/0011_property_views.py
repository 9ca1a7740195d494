"""The property rule engine's three views (docs/records.md), created from the frozen
copies beside this migration (property_sql/0011/), read here without app code, so what
it creates never follows later edits of analytics/records/sql/."""

from pathlib import Path

from django.db import migrations

FROZEN = Path(__file__).resolve().parent / "property_sql" / "0011"
VIEWS = ("property_location_summary", "property_flags", "property_scores")


def _create() -> str:
    return "\n".join(
        f"CREATE VIEW {name} AS\n{(FROZEN / f'{name}.sql').read_text(encoding='utf-8').strip()}\n;"
        for name in VIEWS
    )


def _drop() -> str:
    return "\n".join(f"DROP VIEW IF EXISTS {name};" for name in reversed(VIEWS))


class Migration(migrations.Migration):
    dependencies = [("analytics", "0010_records")]

    operations = [migrations.RunSQL(_create(), reverse_sql=_drop())]
