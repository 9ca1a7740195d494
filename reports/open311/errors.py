"""Open311 errors: the exception views raise, and the spec's error list (XML unless the
path ends in .json) for it and for requests no Open311 view handled."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from reports.open311.rendering import render


class Open311Error(Exception):
    def __init__(self, status: int, *descriptions: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(descriptions[0])
        self.status = status
        self.descriptions = descriptions
        self.headers = headers or {}


def errors_render(fmt: str, error: Open311Error) -> HttpResponse:
    body = [{"code": error.status, "description": description} for description in error.descriptions]
    return render(fmt, "errors", body, status=error.status, headers=error.headers)


# The spec's words for errors the platform answers before any Open311 view runs.
_DESCRIPTIONS = {"tenant_suspended": "This jurisdiction is suspended."}


def error_response(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    """An error in the spec's shape for a request no Open311 view handled (an unknown
    path, a body refused before any view reads it, a suspended jurisdiction): JSON for
    a .json path, else XML. Registered for /open311/ in the ERROR_RENDERERS setting."""
    description = _DESCRIPTIONS.get(code, message)
    return errors_render(
        "json" if request.path.endswith(".json") else "xml", Open311Error(status, description)
    )


@csrf_exempt
def unknown(request: HttpRequest) -> HttpResponse:
    """Anything else under /open311/v2/: a 404 in the spec's shape (XML unless .json)."""
    return error_response(request, 404, "not_found", "No such Open311 resource; see discovery.xml.")
