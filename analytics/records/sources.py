"""Writes of the tenant's record sources (where datasets are downloaded from): the
portal's app token is stored encrypted (llm.secrets: MultiFernet over LLM_SECRET_KEY, as
tenants' model keys are) and re-encrypted when the key rotates."""

from django.db import transaction

from analytics.records.models import RecordSource
from llm.secrets import secret_encrypt, secret_rotate


@transaction.atomic
def record_source_save(
    *, source: RecordSource, app_token: str = "", clear_app_token: bool = False
) -> RecordSource:
    """Save a record source (validated). A new app token replaces the stored one,
    encrypted; an empty one keeps it."""
    source.full_clean()
    if clear_app_token:
        source.app_token_encrypted = ""
    elif app_token:
        source.app_token_encrypted = secret_encrypt(app_token)
    source.save()
    return source


@transaction.atomic
def record_source_secrets_rotate() -> tuple[int, int]:
    """Re-encrypt the tenant's stored app tokens with the first LLM_SECRET_KEY. Returns
    (re-encrypted, unreadable); an unreadable token is left for staff to enter again."""
    rotated = unreadable = 0
    for source in RecordSource.objects.exclude(app_token_encrypted="").select_for_update().order_by("pk"):
        token = secret_rotate(source.app_token_encrypted)
        if token is None:
            unreadable += 1
            continue
        RecordSource.objects.filter(pk=source.pk).update(app_token_encrypted=token)
        rotated += 1
    return rotated, unreadable
