"""The property views again, from the frozen copies beside this migration
(property_sql/0016/): the summary gains the lien events with an amount (what C3's total
is made of) and the lien events' tax years, so that C2's supporting count is the events
within its window and C3's the events summed (docs/records.md). Each view reads the one
before, so all three are dropped and created again."""

from pathlib import Path

from django.db import migrations

HERE = Path(__file__).resolve().parent / "property_sql"
VIEWS = ("property_location_summary", "property_flags", "property_scores")


def _create(folder: str) -> str:
    return "\n".join(
        f"CREATE VIEW {name} AS\n{(HERE / folder / f'{name}.sql').read_text(encoding='utf-8').strip()}\n;"
        for name in VIEWS
    )


def _drop() -> str:
    return "\n".join(f"DROP VIEW IF EXISTS {name};" for name in reversed(VIEWS))


class Migration(migrations.Migration):
    dependencies = [("analytics", "0015_records_leaner_indexes")]

    operations = [
        migrations.RunSQL(_drop() + "\n" + _create("0016"), reverse_sql=_drop() + "\n" + _create("0011"))
    ]
