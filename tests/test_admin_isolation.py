"""Users, sessions and lockouts live per schema: tenant A's login is worthless on B."""

from django.contrib.auth import get_user_model
from django_tenants.utils import schema_context

PASSWORD = "correct horse battery staple"


def _staff(schema: str, username: str = "staff") -> None:
    with schema_context(schema):
        get_user_model().objects.create_superuser(username, f"{username}@example.org", PASSWORD)


def _login(client, username: str = "staff", password: str = PASSWORD):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_session_from_tenant_a_is_rejected_on_tenant_b(client_a, client_b, tenant_pair) -> None:
    a, b = tenant_pair
    _staff(a.schema_name)
    _staff(b.schema_name)  # the same username exists on B: the session still must not work
    assert _login(client_a).status_code == 302
    assert client_a.get("/admin/").status_code == 200

    stolen = client_a.cookies["sessionid"].value
    client_b.cookies["sessionid"] = stolen
    response = client_b.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_tenant_admin_shows_tenant_models_and_not_the_platform(client_a, tenant_pair) -> None:
    _staff(tenant_pair[0].schema_name)
    _login(client_a)
    index = client_a.get("/admin/").content.decode()
    assert "/admin/issues/category/" in index
    assert "/admin/analytics/slapolicy/" in index
    assert "/admin/tenants/tenant/" not in index
    assert client_a.get("/admin/issues/category/").status_code == 200
    assert client_a.get("/admin/tenants/tenant/").status_code == 403


def test_repeated_failures_lock_the_login_on_that_tenant_only(client_a, client_b, tenant_pair) -> None:
    a, b = tenant_pair
    _staff(a.schema_name)
    _staff(b.schema_name)
    for _ in range(4):
        assert _login(client_a, password="wrong").status_code == 200  # form shown again
    # The fifth failure locks the account; from then on even the right password is refused.
    assert _login(client_a, password="wrong").status_code == 429
    locked = _login(client_a)
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert client_a.get("/admin/").status_code == 302
    # The lockout is recorded in A's schema: B's staff member can still sign in.
    assert _login(client_b).status_code == 302


def test_tenant_staff_cannot_edit_beat_schedules(client_a, public_client, tenant_pair) -> None:
    _staff(tenant_pair[0].schema_name)
    _login(client_a)
    assert "/admin/django_celery_beat/" not in client_a.get("/admin/").content.decode()
    assert client_a.get("/admin/django_celery_beat/periodictask/").status_code == 403
    assert client_a.get("/admin/django_celery_beat/periodictask/add/").status_code == 403
    # Operators still edit them on the platform admin.
    from django_tenants.utils import schema_context

    with schema_context("public"):
        get_user_model().objects.create_superuser("platform-op", "p@example.org", PASSWORD)
    _login(public_client, "platform-op")
    assert public_client.get("/admin/django_celery_beat/periodictask/").status_code == 200
