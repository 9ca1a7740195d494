"""One error shape for every API answer: {"code", "message", "fields"}, and the errors
answered before any view runs (a body over the limit, a suspended tenant) in the shape
the path's clients read.

Protocols with an error shape of their own (Open311) register a renderer for their path
prefix in the ERROR_RENDERERS setting, so this module, and the tenant middleware that
uses it, need not import the app that speaks the protocol."""

from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

# (request, status code, error code, message) -> the protocol's error response.
ErrorRenderer = Callable[[HttpRequest, int, str, str], HttpResponse]


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; it is the client's fault: 400.
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
        first = next(iter(fields.items()), ("", [""]))
        message = f"{first[0]}: {first[1][0]}" if first[0] else "The request is invalid."
        response.data = error_body("invalid", message, fields)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, str(getattr(exc, "detail", exc)))
    return response


@cache
def _renderers(spec: tuple[tuple[str, str], ...]) -> tuple[tuple[str, ErrorRenderer], ...]:
    return tuple((prefix, import_string(path)) for prefix, path in spec)


def error_renderers() -> tuple[tuple[str, ErrorRenderer], ...]:
    """ERROR_RENDERERS (path prefix -> dotted path of a renderer), imported once."""
    return _renderers(tuple(settings.ERROR_RENDERERS.items()))


def error_response_for(
    request: HttpRequest,
    status_code: int,
    *,
    code: str,
    message: str,
    page: Callable[[], HttpResponse],
) -> HttpResponse:
    """An error answered before any view runs, in the shape the path's clients read: a
    registered protocol's (Open311 under /open311/), the API's under /api/, else
    `page()`, the site's own."""
    for prefix, render in error_renderers():
        if request.path.startswith(prefix):
            return render(request, status_code, code, message)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, message), status=status_code)
    return page()


class BodySizeLimitMiddleware:
    """Answer 413 to a body over the limit before anything reads it (Django alone would
    answer 400 for a form, and only after spooling the whole upload to disk)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        api = request.path.startswith(tuple(settings.API_PATH_PREFIXES))
        limit = settings.API_MAX_BODY_BYTES if api else settings.FORM_MAX_BODY_BYTES
        if length > limit:
            message = f"Request bodies are limited to {limit} bytes."
            too_large = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            return error_response_for(
                request,
                too_large,
                code="body_too_large",
                message=message,
                page=lambda: HttpResponse(message, status=too_large, content_type="text/plain"),
            )
        return self.get_response(request)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for the whole site: in the API's error shape under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "No such endpoint."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
