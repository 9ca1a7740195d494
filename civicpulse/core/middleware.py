"""Request-scoped context: a request id for tracing, and the tenant for logs."""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
