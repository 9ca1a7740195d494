"""The candidate query of grouping looks for open issues within a radius of a point: a
GiST index on the point as an earthdistance `earth`, over open issues only."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("issues", "0002_grouping_and_issues")]

    operations = [
        migrations.RunSQL(
            """
            CREATE INDEX issue_open_earth ON issues_issue
            USING gist (public.ll_to_earth(latitude, longitude))
            WHERE status IN ('open', 'acknowledged', 'in_progress') AND latitude IS NOT NULL
            """,
            reverse_sql="DROP INDEX issue_open_earth",
        ),
    ]
