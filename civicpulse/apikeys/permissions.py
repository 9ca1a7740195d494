"""Scopes: what an API key may do."""

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from civicpulse.apikeys.models import ApiKey

if TYPE_CHECKING:
    # DRF reads these classes from its settings while rest_framework.views is loading.
    from rest_framework.views import APIView


class HasScope(BasePermission):
    """The view names the scope each method needs in `required_scopes`; HEAD needs what
    GET needs, OPTIONS none, and a method the view does not list is refused."""

    message = "This API key lacks the scope this request needs."

    def has_permission(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        if request.method == "OPTIONS":
            return True
        method = request.method or ""
        scopes: dict[str, str] = getattr(view, "required_scopes", {})
        needed = scopes.get("GET" if method == "HEAD" else method)
        if needed is None:
            # A method the view does not handle is left to DRF's 405; one it handles
            # without naming a scope is refused rather than open to every key.
            self.message = f"{method} is not allowed here."
            return not hasattr(view, method.lower())
        if needed in api_key.scopes:
            return True
        self.message = f"This API key lacks the '{needed}' scope."
        return False
