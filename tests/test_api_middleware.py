"""Integrators' calls (an API path, no session cookie) skip the browser middleware: no
session, user or messages. A browser calling the API with its session, and every
resident and staff page, keep all of it."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from civicpulse.core.middleware import (
    BrowserAuthenticationMiddleware,
    BrowserMessageMiddleware,
    BrowserSessionMiddleware,
)
from tests.conftest import api, host_of

BROWSER_ONLY = (BrowserSessionMiddleware, BrowserAuthenticationMiddleware, BrowserMessageMiddleware)


def _factory(cookies: dict[str, str]) -> RequestFactory:
    factory = RequestFactory()
    for name, value in cookies.items():
        factory.cookies[name] = value
    return factory


def _seen(path: str, cookies: dict[str, str]) -> HttpRequest:
    """The request as the view receives it, through the session, auth and messages middleware."""
    seen: list[HttpRequest] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse()

    chain = view
    for middleware in reversed(BROWSER_ONLY):
        chain = middleware(chain)
    factory = _factory(cookies)
    chain(factory.get(path))
    return seen[0]


@pytest.mark.parametrize("path", ["/api/v1/reports/", "/open311/v2/requests.json"])
def test_an_integrators_call_gets_no_session_user_or_messages(path: str) -> None:
    request = _seen(path, {})
    assert not hasattr(request, "session")
    assert not hasattr(request, "user")
    assert not hasattr(request, "_messages")


@pytest.mark.parametrize(
    "path, cookies",
    [("/report/", {}), ("/admin/", {}), ("/api/v1/property/lookup", {settings.SESSION_COOKIE_NAME: "x"})],
)
def test_browsers_keep_session_user_and_messages(path: str, cookies: dict[str, str]) -> None:
    request = _seen(path, cookies)
    assert hasattr(request, "session") and hasattr(request, "user") and hasattr(request, "_messages")


def test_an_api_answer_sets_no_browser_cookie(client_a, api_key_a) -> None:
    body = {"description": "Deep pothole outside number 12", "latitude": 39.8, "longitude": -89.64}
    response = api(client_a, api_key_a).post("/api/v1/reports/", body)
    assert response.status_code == 201
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_a_staff_session_still_reaches_the_api(client_a, tenant_a) -> None:
    """The property API takes the staff session (DRF's SessionAuthentication): the session
    cookie brings the whole stack back, and DRF enforces CSRF on a session's writes."""
    assert client_a.get("/api/v1/property/reports/mine").status_code in (401, 403)
    staff = User.objects.create_user("mw-staff", password="pw-long-enough-123", is_staff=True)
    strict = Client(HTTP_HOST=host_of(tenant_a), enforce_csrf_checks=True)
    strict.force_login(staff)
    assert strict.get("/api/v1/property/reports/mine").status_code == 200
    write = strict.post("/api/v1/property/reports", {"pin": "1"}, content_type="application/json")
    assert write.status_code == 403 and "CSRF" in write.json()["message"]
