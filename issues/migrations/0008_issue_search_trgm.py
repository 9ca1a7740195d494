"""Staff search issues by words in the title or text (the admin's icontains, i.e.
UPPER(col) LIKE UPPER('%term%')). Trigram indexes on those expressions let PostgreSQL
answer without reading every issue."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("issues", "0007_triage_order_index")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX issue_title_search ON issues_issue USING gin (UPPER(title::text) public.gin_trgm_ops);"
            "CREATE INDEX issue_text_search ON issues_issue USING gin (UPPER(text) public.gin_trgm_ops);",
            reverse_sql="DROP INDEX issue_title_search; DROP INDEX issue_text_search;",
        )
    ]
