"""DRF throttles on the kernel's one rate limiter: per key, and per client address for
requests without a key."""

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from civicpulse.apikeys.models import ApiKey
from civicpulse.core.ratelimit import client_rate_key, rate_limit_hit

if TYPE_CHECKING:
    # DRF reads these classes from its settings while rest_framework.views is loading.
    from rest_framework.views import APIView


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
