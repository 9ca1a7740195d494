"""Extensions live in the public schema, created once by a shared migration; every tenant
schema sees them through its search_path (public comes last)."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;"
            "CREATE EXTENSION IF NOT EXISTS cube SCHEMA public;"
            "CREATE EXTENSION IF NOT EXISTS earthdistance SCHEMA public;",
            reverse_sql=migrations.RunSQL.noop,
        )
    ]
