"""Reads on API keys. A key found active is remembered per process for
API_KEY_CACHE_SECONDS (0: never), so the intake's hot path does not look it up on every
request: a revoked key is refused everywhere within that long."""

import threading
import time

from django.conf import settings

from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_digest
from civicpulse.core.tenancy import current_schema

# (schema, digest) -> (the active key, when this entry expires on time.monotonic()).
_active: dict[tuple[str, str], tuple[ApiKey, float]] = {}
_lock = threading.Lock()
_MAX_ENTRIES = 10_000  # keys are few; junk never piles up past this


def api_key_cached(key: str) -> ApiKey | None:
    """The active key with this value if this process saw it active within
    API_KEY_CACHE_SECONDS; None means "not known here", not "invalid"."""
    hit = _active.get((current_schema(), api_key_digest(key)))
    if hit is None or hit[1] <= time.monotonic():
        return None
    return hit[0]


def api_key_for(key: str) -> ApiKey | None:
    """The active key with this value, if any (from this process's memory when fresh)."""
    cached = api_key_cached(key)
    if cached is not None:
        return cached
    digest = api_key_digest(key)
    api_key = ApiKey.objects.filter(digest=digest, revoked_at=None).first()
    ttl = settings.API_KEY_CACHE_SECONDS
    if api_key is not None and ttl > 0:
        with _lock:
            if len(_active) >= _MAX_ENTRIES:
                _active.clear()
            _active[(current_schema(), digest)] = (api_key, time.monotonic() + ttl)
    return api_key
