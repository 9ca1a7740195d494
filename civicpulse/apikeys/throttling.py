"""DRF throttles on the kernel's one rate limiter: per key, and per client address for
requests without a key."""

import threading
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.selectors import api_key_cached, api_key_for
from civicpulse.core.ratelimit import client_rate_key, rate_limit_hit, rate_limit_refund

if TYPE_CHECKING:
    # DRF reads these classes from its settings while rest_framework.views is loading.
    from rest_framework.views import APIView


# Striped, so that memory stays bounded however many keys are tried.
_LOOKUP_LOCKS = tuple(threading.Lock() for _ in range(64))


class _LimiterThrottle(BaseThrottle):
    _wait: float | None = None

    def wait(self) -> float:
        return self._wait or 60.0


class ApiKeyRateThrottle(_LimiterThrottle):
    """Per key, at the key's own rate_per_minute (0: no limit)."""

    def allow_request(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        self._wait = rate_limit_hit(f"key:{api_key.pk}", limit=api_key.rate_per_minute).wait
        return self._wait is None


class AnonymousRateThrottle(_LimiterThrottle):
    """Per client address for requests without a key (API_ANON_RATE_PER_MINUTE), so
    unauthenticated probing and public Open311 reads cannot flood a tenant."""

    def allow_request(self, request: Request, view: "APIView") -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        self._wait = rate_limit_hit(
            f"anon:{client_rate_key(request)}", limit=settings.API_ANON_RATE_PER_MINUTE
        ).wait
        return self._wait is None


def api_key_guarded(key: str, *, client_key: str) -> tuple[ApiKey | None, float | None]:
    """The active key `key` names, looked up only after counting it as a guess of this
    client (API_BAD_KEY_RATE_PER_MINUTE a minute; a good key gives its count back):
    `(key or None, None)`, or `(None, seconds to wait)` once the client is over. A key this
    process found active moments ago is no guess: neither counted nor looked up. Every door
    that takes a key (the API's header, Open311's `api_key`) goes through here, so no door
    lets keys be guessed at full speed."""
    cached = api_key_cached(key)
    if cached is not None:
        return cached, None
    # One counted lookup of a key at a time in this process. When a busy integrator's
    # key drops out of the cache, every thread serving it would otherwise count at once:
    # 32 threads against a budget of 20, and the ones over it, answered 429 and never
    # given back, keep the address over budget, so the key is never looked up again and
    # the integrator is refused for the rest of the minute.
    with _LOOKUP_LOCKS[hash(key) % len(_LOOKUP_LOCKS)]:
        cached = api_key_cached(key)
        if cached is not None:
            return cached, None
        hit = rate_limit_hit(
            f"badkey:{client_key}", limit=settings.API_BAD_KEY_RATE_PER_MINUTE, scope="apikey"
        )
        if hit.wait is not None:
            return None, hit.wait
        api_key = api_key_for(key)
        if api_key is not None:
            rate_limit_refund(hit)
        return api_key, None
