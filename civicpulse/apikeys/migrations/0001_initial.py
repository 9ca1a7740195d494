"""API keys leave the reports app with their table: this migration only tells Django's
state that the model now lives here (the table, reports_apikey, was created by reports'
first migration and is kept as it is)."""
import django.contrib.postgres.fields
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("reports", "0010_report_media_url"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100)),
                        ("prefix", models.CharField(db_index=True, max_length=12)),
                        ("digest", models.CharField(max_length=64, unique=True)),
                        ("scopes", django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[("submit", "Submit reports"), ("read", "Read"), ("staff", "Staff actions")], max_length=10), default=list, size=None)),
                        ("rate_per_minute", models.PositiveIntegerField(default=6000, help_text="Requests a minute before answering 429; 0 means no limit.")),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "verbose_name": "API key",
                        "ordering": ["-created_at"],
                        "db_table": "reports_apikey",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
