"""repeat_location measures metres with the kernel's one metres-per-degree (earthdistance's
sphere, civicpulse.core.geo.METRES_PER_DEGREE) instead of a rounded 111320: its view is
recreated from the frozen copies beside this migration, read here without app code, so
what it creates never follows later edits of the rule's file or of its loader."""

from pathlib import Path

from django.db import migrations

FROZEN = Path(__file__).resolve().parent / "rule_sql"


def _view(step: str) -> str:
    query = (FROZEN / step / "repeat_location.sql").read_text(encoding="utf-8").strip().rstrip(";")
    return f"CREATE OR REPLACE VIEW analytics_rule_repeat_location AS\n{query}\n;"


class Migration(migrations.Migration):
    dependencies = [("analytics", "0008_derived_rows_unconstrained")]

    operations = [
        migrations.RunSQL(_view("0009"), reverse_sql=_view("0006")),
    ]
