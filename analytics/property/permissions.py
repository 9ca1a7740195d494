"""Who may use the property API: staff (session), analysts (JWT or session) where the
tenant allows them, and API keys with the `property` scope; on city tenants only."""

from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from analytics.property.accounts import analyst_accounts_open, property_enabled
from analytics.property.selectors import is_analyst
from analytics.property.tokens import TenantJWTAuthentication
from civicpulse.apikeys.authentication import ApiKeyAuthentication
from civicpulse.apikeys.models import ApiKey
from civicpulse.core.ratelimit import rate_limit_hit


class PropertyAccess(BasePermission):
    message = "Property lookups and reports need an API key with the 'property' scope, staff or an analyst."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if isinstance(request.auth, ApiKey):
            if ApiKey.Scope.PROPERTY in request.auth.scopes:
                return True
            self.message = "This API key lacks the 'property' scope."
            return False
        user = request.user
        if not isinstance(user, User) or not user.is_active:
            return False
        return user.is_staff or (analyst_accounts_open() and is_analyst(user))


def caller(request: Request) -> tuple[User | None, ApiKey | None]:
    """Who is asking: a user (staff or analyst) or an API key."""
    if isinstance(request.auth, ApiKey):
        return None, request.auth
    return (request.user if isinstance(request.user, User) else None), None


class PropertyAPIView(APIView):
    """The property API's views: the JWT first (it ignores other schemes), then API keys,
    then the staff or analyst session; city tenants only (elsewhere: 404)."""

    authentication_classes = [TenantJWTAuthentication, ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [PropertyAccess]

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        if not property_enabled():
            raise NotFound("Property search exists on city tenants only.")
        super().initial(request, *args, **kwargs)


class PropertyReportCreateThrottle(BaseThrottle):
    """Per caller (API key or user), PROPERTY_REPORT_CREATE_PER_HOUR new reports an hour
    (0: no limit): each one writes a row and may call the language model."""

    _wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method != "POST":
            return True
        user, api_key = caller(request)
        who = f"key:{api_key.pk}" if api_key else f"user:{user.pk}" if user else None
        if who is None:
            return True
        self._wait = rate_limit_hit(
            who, limit=settings.PROPERTY_REPORT_CREATE_PER_HOUR, window_s=3600, scope="property-report"
        ).wait
        return self._wait is None

    def wait(self) -> float:
        return self._wait or 3600.0
