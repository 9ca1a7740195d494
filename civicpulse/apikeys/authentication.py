"""`Authorization: Api-Key <key>`: DRF authentication by API key, and its description in
the OpenAPI schema."""

from typing import TYPE_CHECKING

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_touch
from civicpulse.apikeys.throttling import api_key_guarded
from civicpulse.core.ratelimit import client_rate_key

if TYPE_CHECKING:
    # Only for the hint: importing drf-spectacular's schema reads DRF's settings, which
    # name this module's class, so a run-time import here would be circular.
    from drf_spectacular.openapi import AutoSchema


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
    """`Authorization: Api-Key <key>`, looked up in the current tenant's schema.

    DRF authenticates before it checks permissions and throttles, so a wrong key would
    be answered 401 before any throttle counted it, and keys could be guessed at full
    speed. Every key sent is therefore counted per client address *before* it is looked
    up (API_BAD_KEY_RATE_PER_MINUTE), and the count is given back when the key is good:
    only bad keys use the budget, and a client over it is answered 429 unlooked-up. A key
    the process found active within API_KEY_CACHE_SECONDS skips both."""

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not key.strip():
            raise exceptions.AuthenticationFailed("Send the key as: Authorization: Api-Key <key>.")
        # A key this process found active moments ago is no guess: no lookup to protect,
        # so no count (two Redis round trips saved on every intake request).
        api_key, wait = api_key_guarded(key.strip(), client_key=client_rate_key(request))
        if wait is not None:
            raise exceptions.Throttled(wait=wait)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        api_key_touch(api_key=api_key)
        return ApiClient(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when no valid key was sent.
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The key as the schema's security scheme (drf-spectacular finds it by subclassing)."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: "AutoSchema") -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; scopes: submit, read, staff, property, location.",
        }
