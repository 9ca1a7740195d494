"""API keys remembered per process for a few seconds: the intake's hot path skips the
lookup and the bad-key count, and a revoked key is refused within API_KEY_CACHE_SECONDS."""

import pytest

import civicpulse.apikeys.selectors as selectors
from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_create, api_key_revoke
from tests.conftest import api

BODY = {"description": "Street light out on Elm Street", "latitude": 39.78, "longitude": -89.65}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(settings, monkeypatch) -> Clock:
    settings.API_KEY_CACHE_SECONDS = 5
    clock = Clock()
    monkeypatch.setattr(selectors.time, "monotonic", clock)
    monkeypatch.setattr(selectors, "_active", {})
    return clock


def test_a_revoked_key_is_refused_within_five_seconds(client_a, tenant_a, clock) -> None:
    api_key, key = api_key_create(name="cached", scopes=["submit", "read"])
    assert api(client_a, key).post("/api/v1/reports/", BODY).status_code == 201
    api_key_revoke(api_key=api_key)
    # Remembered for at most five seconds...
    clock.now += 4.9
    assert api(client_a, key).post("/api/v1/reports/", BODY).status_code == 201
    # ...then looked up again, and refused.
    clock.now += 0.2
    assert api(client_a, key).post("/api/v1/reports/", BODY).status_code == 401
    assert api(client_a, key).post("/api/v1/reports/", BODY).status_code == 401


def test_a_remembered_key_is_neither_looked_up_nor_counted(
    client_a, tenant_a, clock, settings, django_assert_num_queries, request
) -> None:
    import civicpulse.apikeys.throttling as throttling
    from tenants.middleware import CachedTenantMainMiddleware

    settings.TENANT_CACHE_SECONDS = 5
    request.addfinalizer(CachedTenantMainMiddleware.forget)
    _, key = api_key_create(name="hot", scopes=["submit", "read"])
    ApiKey.objects.update(rate_per_minute=0)
    assert api(client_a, key).post("/api/v1/reports/", BODY).status_code == 201
    counted: list[str] = []
    original = throttling.rate_limit_hit
    throttling.rate_limit_hit = lambda who, **kw: counted.append(who) or original(who, **kw)
    try:
        # The insert in its savepoint, and nothing else: no tenant query (remembered too),
        # no key lookup, and no SET search_path (the session already holds the tenant's).
        with django_assert_num_queries(3):
            assert api(client_a, key).post("/api/v1/reports/", BODY).status_code == 201
    finally:
        throttling.rate_limit_hit = original
    assert [who for who in counted if who.startswith("badkey:")] == []  # not counted as a guess


def test_keys_are_remembered_per_tenant(tenant_a, tenant_b, clock) -> None:
    from django.db import connection

    connection.set_tenant(tenant_a)
    _, key = api_key_create(name="alpha only", scopes=["read"])
    assert selectors.api_key_for(key) is not None
    connection.set_tenant(tenant_b)
    # The same key sent to another tenant is that tenant's business: not found there.
    assert selectors.api_key_cached(key) is None and selectors.api_key_for(key) is None
