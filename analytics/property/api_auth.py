"""Analysts' accounts through the API: register, a token pair, its refresh (rotated, the old
one blacklisted), and who the token belongs to. Tokens are this tenant's only."""

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, NotFound, PermissionDenied
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.property.accounts import analyst_accounts_open, analyst_register, property_enabled
from analytics.property.selectors import analyst_of
from analytics.property.tokens import (
    TenantJWTAuthentication,
    TokenObtainRequest,
    TokenPair,
    TokenRefreshRequest,
    tokens_for,
    tokens_refresh,
    user_for_credentials,
)


class RegisterRequest(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(
        min_length=8, max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )
    full_name = serializers.CharField(max_length=150)
    organisation = serializers.CharField(max_length=200, required=False, allow_blank=True)


Me = inline_serializer(
    name="Me",
    fields={
        "id": serializers.IntegerField(),
        "username": serializers.CharField(),
        "email": serializers.EmailField(),
        "full_name": serializers.CharField(),
        "organisation": serializers.CharField(),
        "role": serializers.ChoiceField(choices=["analyst", "staff"]),
    },
)


def _me(user: User) -> dict:
    analyst = analyst_of(user)
    return {
        "id": user.pk,
        "username": user.get_username(),
        "email": user.email,
        "full_name": analyst.full_name if analyst else user.get_full_name(),
        "organisation": analyst.organisation if analyst else "",
        "role": "staff" if user.is_staff else "analyst",
    }


class _AuthView(APIView):
    """Open to anyone (the credentials are in the body), on tenants that accept analysts."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        if not analyst_accounts_open():
            raise NotFound("This place does not accept analyst accounts.")
        super().initial(request, *args, **kwargs)

    def get_authenticate_header(self, request: Request) -> str:
        # Wrong credentials or a spent refresh token are 401 with a challenge, not 403.
        return 'Bearer realm="api"'


class Register(_AuthView):
    """Create an analyst account (the email is the login) and answer with its first token pair."""

    @extend_schema(request=RegisterRequest, responses={201: TokenPair}, auth=[])
    def post(self, request: Request) -> Response:
        data = RegisterRequest(data=request.data)
        data.is_valid(raise_exception=True)
        user = analyst_register(**data.validated_data)
        return Response(tokens_for(user), status=201)


class TokenObtain(_AuthView):
    """A token pair for a username or an email and the password: the access token for
    30 minutes, the refresh token for 7 days. Failed attempts count towards the lockout."""

    @extend_schema(request=TokenObtainRequest, responses={200: TokenPair}, auth=[])
    def post(self, request: Request) -> Response:
        data = TokenObtainRequest(data=request.data)
        data.is_valid(raise_exception=True)
        login = data.validated_data.get("email") or data.validated_data["username"]
        user = user_for_credentials(request=request, login=login, password=data.validated_data["password"])
        if user is None:
            raise AuthenticationFailed("No active account has these credentials.")
        return Response(tokens_for(user))


class TokenRefresh(_AuthView):
    """A new token pair for a refresh token; the refresh token sent is blacklisted, so it
    works once."""

    @extend_schema(request=TokenRefreshRequest, responses={200: TokenPair}, auth=[])
    def post(self, request: Request) -> Response:
        data = TokenRefreshRequest(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(tokens_refresh(data.validated_data["refresh"]))


class SignedIn(BasePermission):
    message = "Send an access token: Authorization: Bearer <access>."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, User) and request.user.is_active


class AuthMe(APIView):
    """The account the access token belongs to."""

    authentication_classes = [TenantJWTAuthentication]
    permission_classes = [SignedIn]

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        if not property_enabled():
            raise NotFound("Analyst accounts exist on city tenants only.")
        super().initial(request, *args, **kwargs)

    @extend_schema(responses=Me)
    def get(self, request: Request) -> Response:
        user = request.user
        if not isinstance(user, User):
            raise PermissionDenied
        return Response(_me(user))
