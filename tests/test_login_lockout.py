"""Admin sign-in lockout: per client behind trusted proxies, and against spraying and
guessing from many addresses (civicpulse.core.lockout)."""

from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context

from tests.conftest import host_of

PASSWORD = "correct horse battery staple"


def _staff(schema: str, *usernames: str) -> None:
    with schema_context(schema):
        for username in usernames:
            get_user_model().objects.create_superuser(username, f"{username}@example.org", PASSWORD)


def _login(client: Client, username: str = "staff", password: str = PASSWORD, **meta: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, **meta)


def _behind_proxy(address: str) -> dict[str, str]:
    # Every client reaches the web server through the same proxy, which appends the address
    # it saw to X-Forwarded-For.
    return {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": f"198.51.100.7, {address}"}


def test_behind_a_proxy_one_clients_failures_do_not_lock_out_the_others(
    client_a, tenant_pair, settings
) -> None:
    settings.TRUSTED_PROXY_HOPS = 1
    _staff(tenant_pair[0].schema_name, "staff")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client_a, password="wrong", **_behind_proxy("203.0.113.10"))
    assert _login(client_a, **_behind_proxy("203.0.113.10")).status_code == 429
    # Another client behind the same proxy signs in: it is not the attacker's address.
    other = Client(HTTP_HOST=host_of(tenant_pair[0]))
    assert _login(other, **_behind_proxy("203.0.113.20")).status_code == 302


def test_forged_forwarded_entries_do_not_escape_the_lockout(client_a, tenant_pair, settings) -> None:
    settings.TRUSTED_PROXY_HOPS = 1
    _staff(tenant_pair[0].schema_name, "staff")
    # The attacker varies the left part of X-Forwarded-For; the proxy's own entry stays.
    for n in range(settings.AXES_FAILURE_LIMIT):
        forged = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": f"192.0.2.{n}, 203.0.113.10"}
        _login(client_a, password="wrong", **forged)
    assert _login(client_a, **_behind_proxy("203.0.113.10")).status_code == 429


def test_password_spraying_from_one_address_is_locked_out(client_a, tenant_pair, settings) -> None:
    settings.AXES_ADDRESS_FAILURE_LIMIT = 6
    _staff(tenant_pair[0].schema_name, "staff")
    # One guess at each of many usernames: no (username, address) pair reaches its limit...
    for n in range(settings.AXES_ADDRESS_FAILURE_LIMIT - 1):
        assert _login(client_a, username=f"user{n}", password="Summer2026!").status_code == 200
    # ...but the failure that reaches the address's limit locks it out, and from then on
    # it is refused even with a right password.
    assert _login(client_a, username="one-more", password="Summer2026!").status_code == 429
    assert _login(client_a).status_code == 429
    # Someone else, elsewhere, still signs in.
    other = Client(HTTP_HOST=host_of(tenant_pair[0]), REMOTE_ADDR="192.0.2.99")
    assert _login(other).status_code == 302


def test_guessing_one_username_from_many_addresses_locks_that_username(
    client_a, tenant_pair, settings
) -> None:
    settings.AXES_USERNAME_FAILURE_LIMIT = 8
    assert settings.AXES_USERNAME_FAILURE_LIMIT > settings.AXES_FAILURE_LIMIT
    _staff(tenant_pair[0].schema_name, "staff", "colleague")
    for n in range(settings.AXES_USERNAME_FAILURE_LIMIT):
        _login(client_a, password="wrong", REMOTE_ADDR=f"192.0.2.{n}")
    # From a fresh address the username is refused; another username from there is not.
    assert _login(client_a, REMOTE_ADDR="198.51.100.50").status_code == 429
    assert _login(client_a, username="colleague", REMOTE_ADDR="198.51.100.50").status_code == 302


def test_a_few_failures_from_many_addresses_stay_below_the_username_limit(
    client_a, tenant_pair, settings
) -> None:
    _staff(tenant_pair[0].schema_name, "staff")
    for n in range(settings.AXES_FAILURE_LIMIT + 2):
        _login(client_a, password="wrong", REMOTE_ADDR=f"192.0.2.{n}")
    # Above the per-pair limit in all, below the username's higher one: not locked.
    assert _login(client_a, REMOTE_ADDR="198.51.100.50").status_code == 302
