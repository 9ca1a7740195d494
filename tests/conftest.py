"""Fixtures shared by the whole suite.

Two tenants are created once per session (committed, so real worker processes see
them); each test runs inside a transaction that is rolled back. One tenant has a hyphen
in its slug, so schema-name quoting is exercised everywhere.
"""

import time
from collections.abc import Iterator
from types import ModuleType

import pytest
from django.db import connection
from django.test import Client

from tenants.models import Tenant
from tenants.services import tenant_create
from tests.support.services import RedisServer

TENANT_A = {"slug": "alpha", "name": "Alpha City", "kind": "city", "timezone": "America/Chicago"}
TENANT_B = {"slug": "beta-hotel", "name": "Beta Hotel", "kind": "hotel", "timezone": "Europe/London"}


@pytest.fixture(scope="session", autouse=True)
def test_redis() -> Iterator[RedisServer]:
    """The suite's own Redis (broker, cache, heartbeats), so tests may stop and restart it."""
    from django.conf import settings

    server = RedisServer(port=settings.TEST_REDIS_PORT).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tenant_pair(django_db_setup: None, django_db_blocker) -> tuple[Tenant, Tenant]:
    with django_db_blocker.unblock():
        pair = tuple(
            Tenant.objects.filter(schema_name=spec["slug"]).first() or tenant_create(**spec)
            for spec in (TENANT_A, TENANT_B)
        )
        connection.set_schema_to_public()
    return pair


@pytest.fixture
def public_schema(db: None) -> Iterator[None]:
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


def _enter(tenant: Tenant) -> Iterator[Tenant]:
    connection.set_tenant(tenant)
    yield tenant
    connection.set_schema_to_public()


@pytest.fixture
def tenant_a(db: None, tenant_pair: tuple[Tenant, Tenant]) -> Iterator[Tenant]:
    """The test runs in tenant A's schema."""
    yield from _enter(tenant_pair[0])


@pytest.fixture
def tenant_b(db: None, tenant_pair: tuple[Tenant, Tenant]) -> Iterator[Tenant]:
    yield from _enter(tenant_pair[1])


def host_of(tenant: Tenant) -> str:
    return f"{tenant.schema_name}.localhost"


@pytest.fixture
def client_a(db: None, tenant_pair: tuple[Tenant, Tenant]) -> Client:
    return Client(HTTP_HOST=host_of(tenant_pair[0]))


@pytest.fixture
def client_b(db: None, tenant_pair: tuple[Tenant, Tenant]) -> Client:
    return Client(HTTP_HOST=host_of(tenant_pair[1]))


@pytest.fixture
def public_client(db: None) -> Client:
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def api_key_a(tenant_a: Tenant) -> str:
    """A submit+read key of tenant A (the test runs in A's schema)."""
    from civicpulse.apikeys.services import api_key_create

    return api_key_create(name="test", scopes=["submit", "read"])[1]


def api(client: Client, key: str | None):
    """JSON helpers for the API with an `Authorization: Api-Key` header."""
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {key}"} if key else {}

    class _Api:
        @staticmethod
        def post(path: str, body: object, **extra: object):
            return client.post(path, body, content_type="application/json", **headers, **extra)

        @staticmethod
        def get(path: str, **extra: object):
            return client.get(path, **headers, **extra)

    return _Api


@pytest.fixture
def fresh_rate_limits() -> None:
    """No resident post counted yet against any address or tenant (in Redis, which the
    test servers share): the modules posting many photos use it."""
    from civicpulse.core.redis_client import redis_client

    client = redis_client()
    for pattern in ("cp:*:form-rate:*", "cp:*:tenant-hour:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)


@pytest.fixture(autouse=True)
def _rate_windows_hold_still(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate limiter counts in fixed windows, and a throttle test makes its limit's
    worth of requests before the one that must be refused: a minute turning between them
    would start a new count. Within this process the limiter's clock stays where the test
    began, so the whole test falls in one window (servers in other processes keep theirs)."""
    from civicpulse.core import ratelimit

    began = time.time()
    held = ModuleType("time")
    held.__dict__.update(vars(time))  # everything else of the module, as it is
    held.time = lambda: began  # type: ignore[attr-defined]
    monkeypatch.setattr(ratelimit, "time", held)


@pytest.fixture(autouse=True)
def _wake_keys_unknown() -> None:
    """Each test starts with no wake key remembered by this process (reports.services.outbox):
    a key an earlier test saw alive would otherwise keep its wake-ups from Redis."""
    from reports.services import outbox

    outbox._known_awake.clear()


@pytest.fixture
def kept_clock(monkeypatch) -> list[float]:
    """The clock of what processes keep for a few seconds (civicpulse.core.kept), at 1,000 s
    until the test moves it."""
    from civicpulse.core import kept

    now = [1000.0]
    monkeypatch.setattr(kept, "monotonic", lambda: now[0])
    return now
