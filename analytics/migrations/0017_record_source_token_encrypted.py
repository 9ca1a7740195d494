"""Record sources' Socrata app tokens encrypted at rest, as tenants' model keys are
(llm.secrets: MultiFernet over LLM_SECRET_KEY): each stored token is encrypted into the
new column, then the plaintext column is dropped. Reversible (decrypted back), so long
as a configured key still reads the tokens."""

from django.db import migrations, models

from llm.secrets import secret_decrypt, secret_encrypt


def tokens_encrypt(apps, schema_editor) -> None:
    RecordSource = apps.get_model("analytics", "RecordSource")
    for source in RecordSource.objects.exclude(app_token="").order_by("pk"):
        source.app_token_encrypted = secret_encrypt(source.app_token)
        source.save(update_fields=["app_token_encrypted"])


def tokens_decrypt(apps, schema_editor) -> None:
    RecordSource = apps.get_model("analytics", "RecordSource")
    for source in RecordSource.objects.exclude(app_token_encrypted="").order_by("pk"):
        source.app_token = secret_decrypt(source.app_token_encrypted)[:100]
        source.save(update_fields=["app_token"])


class Migration(migrations.Migration):
    dependencies = [("analytics", "0016_property_views_supporting_counts")]

    operations = [
        migrations.AddField(
            model_name="recordsource",
            name="app_token_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(tokens_encrypt, tokens_decrypt),
        migrations.RemoveField(model_name="recordsource", name="app_token"),
    ]
