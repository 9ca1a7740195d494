"""Analyst accounts and their JWTs: registration (Django's password validators), a token
pair by username or email, refresh with rotation and blacklist, `me`, the tenant claim
(a token is refused on another tenant), and the sign-up and sign-in pages."""

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from analytics.property.models import Analyst
from tenants.models import Tenant


@pytest.fixture
def open_city(tenant_a) -> Tenant:
    Tenant.objects.filter(pk=tenant_a.pk).update(analyst_accounts_enabled=True)
    tenant_a.refresh_from_db()
    connection.set_tenant(tenant_a)
    return tenant_a


def _post(client, path: str, body: dict, token: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(path, body, content_type="application/json", **headers)


REGISTRATION = {
    "email": "Ada@Example.org",
    "password": "lattice-of-bridges-9",
    "full_name": "Ada  Lovelace",
    "organisation": "Analytical Engines",
}


def test_register_then_me(open_city, client_a) -> None:
    answer = _post(client_a, "/api/v1/auth/register", REGISTRATION)
    assert answer.status_code == 201, answer.json()
    tokens = answer.json()
    assert set(tokens) == {"access", "refresh"}
    user = User.objects.get(username="ada@example.org")
    assert (user.email, user.is_staff, user.is_superuser) == ("ada@example.org", False, False)
    assert Analyst.objects.get(user=user).organisation == "Analytical Engines"
    me = client_a.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 200
    assert me.json() == {
        "id": user.pk,
        "username": "ada@example.org",
        "email": "ada@example.org",
        "full_name": "Ada Lovelace",
        "organisation": "Analytical Engines",
        "role": "analyst",
    }
    claims = jwt.decode(tokens["access"], settings.SECRET_KEY, algorithms=["HS256"])
    assert claims["tenant"] == "alpha" and claims["exp"] - claims["iat"] == 30 * 60
    refresh_claims = jwt.decode(tokens["refresh"], settings.SECRET_KEY, algorithms=["HS256"])
    assert refresh_claims["exp"] - refresh_claims["iat"] == 7 * 24 * 3600
    # The same email again, in any case: refused.
    again = _post(client_a, "/api/v1/auth/register", {**REGISTRATION, "email": "ADA@example.org"})
    assert again.status_code == 400 and "email" in again.json()["fields"]


@pytest.mark.parametrize(
    "password, message",
    [
        ("short1", "Ensure this field has at least 8 characters."),
        ("password123", "This password is too common."),
        ("83749261533", "This password is entirely numeric."),
    ],
)
def test_registration_applies_the_password_validators(
    open_city, client_a, password: str, message: str
) -> None:
    answer = _post(client_a, "/api/v1/auth/register", {**REGISTRATION, "password": password})
    assert answer.status_code == 400
    assert message in answer.json()["fields"]["password"]
    assert not User.objects.filter(username="ada@example.org").exists()


def test_tokens_by_username_or_email(open_city, client_a) -> None:
    _post(client_a, "/api/v1/auth/register", REGISTRATION)
    by_email = _post(
        client_a, "/api/v1/auth/token", {"email": "ada@example.org", "password": REGISTRATION["password"]}
    )
    by_name = _post(
        client_a, "/api/v1/auth/token", {"username": "ada@example.org", "password": REGISTRATION["password"]}
    )
    assert by_email.status_code == by_name.status_code == 200
    wrong = _post(
        client_a, "/api/v1/auth/token", {"email": "ada@example.org", "password": "not-the-password"}
    )
    assert wrong.status_code == 401
    assert _post(client_a, "/api/v1/auth/token", {"password": "x"}).status_code == 400


def test_refresh_rotates_and_blacklists_the_old_token(open_city, client_a) -> None:
    first = _post(client_a, "/api/v1/auth/register", REGISTRATION).json()
    rotated = _post(client_a, "/api/v1/auth/token/refresh", {"refresh": first["refresh"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert set(second) == {"access", "refresh"} and second["refresh"] != first["refresh"]
    old_jti = jwt.decode(first["refresh"], settings.SECRET_KEY, algorithms=["HS256"])["jti"]
    assert BlacklistedToken.objects.filter(token__jti=old_jti).exists()
    assert OutstandingToken.objects.count() == 2
    # The old refresh token works once only; the new one works.
    reused = _post(client_a, "/api/v1/auth/token/refresh", {"refresh": first["refresh"]})
    assert reused.status_code == 401 and reused.json()["code"] == "token_not_valid"
    assert _post(client_a, "/api/v1/auth/token/refresh", {"refresh": second["refresh"]}).status_code == 200
    assert client_a.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {second['access']}").status_code == 200
    # An access token is not a refresh token, nor the reverse.
    assert _post(client_a, "/api/v1/auth/token/refresh", {"refresh": second["access"]}).status_code == 401
    assert (
        client_a.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {second['refresh']}").status_code == 401
    )


def test_a_token_is_refused_on_another_tenant(open_city, client_a, tenant_pair) -> None:
    from django.test import Client

    from tenants.services import tenant_create

    tokens = _post(client_a, "/api/v1/auth/register", REGISTRATION).json()
    ada = User.objects.get(username="ada@example.org")
    # Another city that accepts analysts, with a user of the same id.
    connection.set_schema_to_public()
    other = Tenant.objects.filter(schema_name="gamma-city").first() or tenant_create(
        slug="gamma-city", name="Gamma City", kind="city"
    )
    Tenant.objects.filter(pk=other.pk).update(analyst_accounts_enabled=True)
    connection.set_tenant(other)
    User.objects.create_user("twin", "twin@example.org", "pw-long-enough-123", id=ada.pk)
    gamma = Client(HTTP_HOST="gamma-city.localhost")
    me = gamma.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 401 and me.json()["code"] == "token_not_valid"
    lookup = gamma.post(
        "/api/v1/property/lookup",
        {"pin": "17-09-100-001-0000"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tokens['access']}",
    )
    assert lookup.status_code == 401
    assert _post(gamma, "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}).status_code == 401
    connection.set_tenant(open_city)
    assert client_a.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}").status_code == 200


def test_accounts_are_closed_unless_the_tenant_allows_them(tenant_a, client_a, client_b) -> None:
    assert _post(client_a, "/api/v1/auth/register", REGISTRATION).status_code == 404
    assert client_a.get("/property/signup/").status_code == 404
    assert _post(client_b, "/api/v1/auth/token", {"username": "x", "password": "y"}).status_code == 404


def test_a_jwt_reaches_the_property_api(open_city, client_a) -> None:
    from tests.support.property_data import PIN, property_with_records

    home = property_with_records(open_violations=1, lien=False)
    tokens = _post(client_a, "/api/v1/auth/register", REGISTRATION).json()
    found = _post(client_a, "/api/v1/property/lookup", {"address": "12 N Main St"}, tokens["access"])
    assert found.status_code == 200 and found.json()["location_id"] == home.pk
    made = _post(client_a, "/api/v1/property/reports", {"location_id": home.pk}, tokens["access"])
    assert made.status_code == 201
    mine = client_a.get("/api/v1/property/reports/mine", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert [r["id"] for r in mine.json()["results"]] == [made.json()["id"]]
    assert _post(client_a, "/api/v1/property/lookup", {"pin": PIN}, "not-a-token").status_code == 401


def test_sign_up_and_sign_in_pages(open_city, client_a) -> None:
    page = client_a.get("/property/signup/")
    assert page.status_code == 200 and b'<label for="id_email">' in page.content
    weak = client_a.post("/property/signup/", {**REGISTRATION, "password": "password1"})
    assert weak.status_code == 200 and b"This password is too common." in weak.content
    made = client_a.post("/property/signup/", REGISTRATION)
    assert made.status_code == 302 and made["Location"] == "/property/"
    assert client_a.get("/property/").status_code == 200
    client_a.post("/property/signout/")
    assert client_a.get("/property/")["Location"].startswith("/property/signin/")
    signed = client_a.post(
        "/property/signin/",
        {"login": "ADA@example.org", "password": REGISTRATION["password"], "next": "/property/"},
    )
    assert signed.status_code == 302 and signed["Location"] == "/property/"
    # `next` leads to a path of this site only.
    client_a.post("/property/signout/")
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
        away = client_a.post(
            "/property/signin/",
            {"login": "ada@example.org", "password": REGISTRATION["password"], "next": elsewhere},
        )
        assert away["Location"] == "/property/", elsewhere
    # Never the staff console.
    assert client_a.get("/admin/").status_code == 302


def test_the_demo_analyst_is_created_once(open_city, client_a) -> None:
    from analytics.property.accounts import analyst_ensure
    from civicpulse.demo.tenants import ANALYST_TENANTS, ANALYST_USERNAME, DEMO_PASSWORD

    assert "springfield" in ANALYST_TENANTS
    for _ in range(2):
        analyst_ensure(
            username=ANALYST_USERNAME,
            email="analyst@springfield.example.org",
            password=DEMO_PASSWORD,
            full_name="Demo Analyst",
        )
    user = User.objects.get(username="analyst")
    assert not user.is_staff and Analyst.objects.filter(user=user).count() == 1
    signed = client_a.post("/property/signin/", {"login": "analyst", "password": DEMO_PASSWORD})
    assert signed.status_code == 302 and signed["Location"] == "/property/"


def test_refresh_tokens_are_in_tenant_consoles_only(open_city, client_a, public_client) -> None:
    from django_tenants.utils import schema_context

    _post(client_a, "/api/v1/auth/register", REGISTRATION)
    staff = User.objects.create_superuser("chief", "chief@example.org", "pw-long-enough-123")
    client_a.force_login(staff)
    assert client_a.get("/admin/token_blacklist/outstandingtoken/").status_code == 200
    with schema_context("public"):
        operator = User.objects.create_superuser("op-tokens", "op@example.org", "pw-long-enough-123")
        public_client.force_login(operator)
        index = public_client.get("/admin/")
        assert index.status_code == 200 and b"outstandingtoken" not in index.content
        assert public_client.get("/admin/token_blacklist/outstandingtoken/").status_code in (403, 404)
