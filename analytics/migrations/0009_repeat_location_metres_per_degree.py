"""repeat_location measures metres with the kernel's one metres-per-degree (earthdistance's
sphere, civicpulse.core.geo.METRES_PER_DEGREE) instead of a rounded 111320: its view is
recreated from the frozen copies beside this migration, so what it creates never follows
later edits of the rule's file."""

from pathlib import Path

from django.db import migrations

from analytics.rules.loader import rule_view_sql

FROZEN = Path(__file__).resolve().parent / "rule_sql"


class Migration(migrations.Migration):
    dependencies = [("analytics", "0008_derived_rows_unconstrained")]

    operations = [
        migrations.RunSQL(
            rule_view_sql("repeat_location", directory=FROZEN / "0009"),
            reverse_sql=rule_view_sql("repeat_location", directory=FROZEN / "0006"),
        ),
    ]
