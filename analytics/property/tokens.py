"""Analysts' JWTs (djangorestframework-simplejwt), each bound to the tenant that issued it.

Every tenant shares the signing key, and user ids repeat from one tenant's schema to the
next, so a token names its tenant in the `tenant` claim and is refused anywhere else: at
authentication (the access token) and at refresh (the refresh token). Lifetimes, rotation
and the blacklist are in settings.SIMPLE_JWT; the blacklist's tables live in each
tenant's schema, beside the users they name."""

from typing import TYPE_CHECKING, Any

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from civicpulse.core.tenancy import current_schema

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema

TENANT_CLAIM = "tenant"


def _check_tenant(token: Token) -> None:
    if token.payload.get(TENANT_CLAIM) != current_schema():
        raise TokenError("Token was issued by another tenant.")


class TenantAccessToken(AccessToken):
    def verify(self) -> None:
        super().verify()
        _check_tenant(self)


class TenantRefreshToken(RefreshToken):
    access_token_class = TenantAccessToken

    def verify(self) -> None:
        # The tenant first: the blacklist check that follows reads this tenant's tables.
        _check_tenant(self)
        super().verify()

    @classmethod
    def for_user(cls, user: User) -> "TenantRefreshToken":  # type: ignore[override]
        token = super().for_user(user)
        token[TENANT_CLAIM] = current_schema()
        return token  # type: ignore[return-value]


def tokens_for(user: User) -> dict[str, str]:
    refresh = TenantRefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


class TenantJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access>`: an access token this tenant issued."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        try:
            return super().authenticate(request)
        except InvalidToken as exc:
            # One message in the API's error shape instead of simplejwt's nested detail.
            raise exceptions.AuthenticationFailed(
                "The token is invalid, expired or was issued by another tenant.", code="token_not_valid"
            ) from exc


class TokenObtainRequest(serializers.Serializer):
    """A username or an email, and the password."""

    username = serializers.CharField(required=False, max_length=150)
    email = serializers.EmailField(required=False)
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("username") and not attrs.get("email"):
            raise serializers.ValidationError({"username": ["Give a username or an email."]})
        return attrs


def user_for_credentials(*, request: Request, login: str, password: str) -> User | None:
    """The active user a username or an email and a password name, through the
    authentication backends (so failed attempts count towards the lockout)."""
    username = login
    if "@" in login:
        match = (
            User.objects.filter(email__iexact=login).order_by("pk").values_list("username", flat=True).first()
        )
        username = match or login
    user = authenticate(request._request, username=username, password=password)
    return user if isinstance(user, User) and user.is_active else None


class TokenRefreshRequest(serializers.Serializer):
    refresh = serializers.CharField()


class TokenPair(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


def tokens_refresh(raw: str) -> dict[str, str]:
    """A new access token and a new refresh token for a refresh token of this tenant; the
    old refresh token is blacklisted (settings.SIMPLE_JWT: rotation with blacklist)."""
    from rest_framework_simplejwt.serializers import TokenRefreshSerializer

    class _Refresh(TokenRefreshSerializer):
        token_class = TenantRefreshToken

    serializer = _Refresh(data={"refresh": raw})
    try:
        serializer.is_valid(raise_exception=True)
    except TokenError as exc:
        raise exceptions.AuthenticationFailed(
            "The refresh token is invalid, expired, already used or was issued by another tenant.",
            code="token_not_valid",
        ) from exc
    return dict(serializer.validated_data)


class BearerScheme(OpenApiAuthenticationExtension):
    """The analyst's JWT as a security scheme of the schema."""

    target_class = TenantJWTAuthentication
    name = "Bearer"

    def get_security_definition(self, auto_schema: "AutoSchema") -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An analyst's access token from POST /api/v1/auth/token (30 minutes).",
        }
