"""Request-scoped context (a request id for tracing, and the tenant for logs), and the
browser-only middleware that integrators' calls skip."""

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

from civicpulse.core.context import request_id_var, tenant_var
from civicpulse.core.logging import redact

access_log = logging.getLogger("civicpulse.request")

# A client-supplied id is kept only if it is short and plain, so it cannot forge log lines.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Outermost middleware: sets the request id (the tenant is set once it is resolved)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Set, not reset afterwards: Django logs 4xx/5xx after the middleware chain
        # returns, and those lines must still carry the request id. Each request (one per
        # thread at a time) starts by setting both values afresh.
        request_id_var.set(request_id)
        tenant_var.set("-")
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        path = redact(request.path)  # tracking ids and resident tokens stay out of logs
        access_log.info(
            "%s %s %s",
            request.method,
            path,
            response.status_code,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response


# Integrators' paths. A call there with no session cookie comes from a program holding a
# key (or nothing), never from a signed-in browser.
API_PATH_PREFIXES = ("/api/", "/open311/")


def browser_request(request: HttpRequest) -> bool:
    """False for an integrator's call: an API path and no session cookie. Such a call has
    no session, user or messages to load or save, so the middleware below leaves it
    alone. A staff member's or an analyst's browser calling the API with its session keeps
    all of them: DRF's SessionAuthentication reads the user the middleware sets. Django's
    CSRF middleware stays for every request (`check --deploy` asks for it by name); on the
    API's views, all exempt, it costs next to nothing."""
    return (
        not request.path_info.startswith(API_PATH_PREFIXES) or settings.SESSION_COOKIE_NAME in request.COOKIES
    )


class BrowserOnlyMixin(MiddlewareMixin):
    """Put before a MiddlewareMixin-style middleware: runs it for browser requests only."""

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        # Under ASGI both branches hand back the awaitable of the async chain.
        if browser_request(request):
            return super().__call__(request)
        return self.get_response(request)


class BrowserSessionMiddleware(BrowserOnlyMixin, SessionMiddleware):
    pass


class BrowserAuthenticationMiddleware(BrowserOnlyMixin, AuthenticationMiddleware):
    pass


class BrowserMessageMiddleware(BrowserOnlyMixin, MessageMiddleware):
    pass
