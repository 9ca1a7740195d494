"""API plumbing shared by every endpoint: API-key authentication, scopes and throttling
per key and per anonymous client. (The error shape is in civicpulse.api_errors.)"""
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from civicpulse.core.workers import redis_client
from reports.models import ApiKey
from reports.selectors import api_key_for
from reports.services import api_key_touch


class ApiClient:
    """The caller behind an API key, as request.user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api:{self.api_key.name}"


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>`, looked up in the current tenant's schema."""

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not key.strip():
            raise exceptions.AuthenticationFailed("Send the key as: Authorization: Api-Key <key>.")
        api_key = api_key_for(key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        api_key_touch(api_key=api_key)
        return ApiClient(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when no valid key was sent.
        return self.keyword


class HasScope(BasePermission):
    """The view names the scope each method needs in `required_scopes`; HEAD needs what
    GET needs, OPTIONS none, and a method the view does not list is refused."""

    message = "This API key lacks the scope this request needs."

    def has_permission(self, request: Request, view: object) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        if request.method == "OPTIONS":
            return True
        scopes = getattr(view, "required_scopes", {})
        needed = scopes.get("GET" if request.method == "HEAD" else request.method)
        if needed is None:
            # A method the view does not handle is left to DRF's 405; one it handles
            # without naming a scope is refused rather than open to every key.
            self.message = f"{request.method} is not allowed here."
            return not hasattr(view, request.method.lower())
        if needed in api_key.scopes:
            return True
        self.message = f"This API key lacks the '{needed}' scope."
        return False


def rate_limit_wait(who: str, per_minute: int) -> float | None:
    """Count one request of `who` in a fixed one-minute window in Redis (one INCR); the
    seconds to wait once over `per_minute`, else None. If Redis is down the request is
    let through: throttling must not take intake down."""
    if per_minute <= 0:
        return None
    key = f"cp:{connection.schema_name}:throttle:{who}:{int(time.time() // 60)}"
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count = pipe.execute()[0]
    except Exception:
        return None
    return 60 - time.time() % 60 if count > per_minute else None


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_HOPS proxies the entry
    they appended to X-Forwarded-For (entries further left are the client's to forge)."""
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


class ApiKeyRateThrottle(BaseThrottle):
    """Per key, at the key's own rate_per_minute (0: no limit)."""

    def allow_request(self, request: Request, view: object) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        self._wait = rate_limit_wait(f"key:{api_key.pk}", api_key.rate_per_minute)
        return self._wait is None

    def wait(self) -> float:
        return self._wait or 60.0


class AnonymousRateThrottle(BaseThrottle):
    """Per client address for requests without a key (API_ANON_RATE_PER_MINUTE), so
    unauthenticated probing and public Open311 reads cannot flood a tenant."""

    def allow_request(self, request: Request, view: object) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        self._wait = rate_limit_wait(f"anon:{client_address(request)}", settings.API_ANON_RATE_PER_MINUTE)
        return self._wait is None

    def wait(self) -> float:
        return self._wait or 60.0
