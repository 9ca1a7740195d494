"""Reads on API keys."""

from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_digest


def api_key_for(key: str) -> ApiKey | None:
    """The active key with this value, if any."""
    return ApiKey.objects.filter(digest=api_key_digest(key), revoked_at=None).first()
