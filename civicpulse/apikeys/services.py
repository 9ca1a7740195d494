"""Writes on API keys. Keys are long random strings, so a fast digest (SHA-256) is
enough to store them and keeps authentication cheap on the intake path."""

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from civicpulse.apikeys.models import ApiKey

KEY_PREFIX_LENGTH = 8


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(*, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the key itself, which is shown once and not kept."""
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if unknown or not scopes:
        raise ValidationError({"scopes": [f"Choose scopes among {', '.join(ApiKey.Scope.values)}."]})
    key = "cp_" + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name, prefix=key[: KEY_PREFIX_LENGTH + 3], digest=api_key_digest(key), scopes=sorted(set(scopes))
    )
    return api_key, key


def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at=None).update(revoked_at=timezone.now())


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute per key, so the intake path rarely writes it."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
