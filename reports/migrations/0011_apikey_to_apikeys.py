"""API keys now belong to the apikeys app (same table): reports' state lets go of the
model, its foreign key points at the new home, and each schema's content type follows,
so staff permissions on keys and admin history carry over."""
import django.db.models.deletion
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def _relabel(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.using(schema_editor.connection.alias).filter(app_label=old, model="apikey").update(
        app_label=new
    )


def to_apikeys(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _relabel(apps, schema_editor, "reports", "apikeys")


def to_reports(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _relabel(apps, schema_editor, "apikeys", "reports")


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("reports", "0010_report_media_url"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="report",
                    name="api_key",
                    field=models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                        related_name="reports", to="apikeys.apikey",
                    ),
                ),
                migrations.DeleteModel(name="ApiKey"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(to_apikeys, to_reports),
    ]
