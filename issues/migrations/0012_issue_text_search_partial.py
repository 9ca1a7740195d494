"""The text search index leaves out issues whose text is their title: a search matches
those through the title index (see IssueAdmin.get_search_results). Imported issues are
such, as most exports carry no text beyond the request type, and a city's history can
be millions of them: one trigram index over those words instead of two."""
from django.db import migrations

FULL = "CREATE INDEX issue_text_search ON issues_issue USING gin (UPPER(text) public.gin_trgm_ops)"


class Migration(migrations.Migration):
    dependencies = [("issues", "0011_category_questions")]

    operations = [
        migrations.RunSQL(
            f"DROP INDEX issue_text_search; {FULL} WHERE text <> title;",
            reverse_sql=f"DROP INDEX issue_text_search; {FULL};",
        )
    ]
