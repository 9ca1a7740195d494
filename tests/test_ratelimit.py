"""The one rate limiter behind the API, Open311 and the resident form: counted first,
per tenant, and a refund gives back only the place it took."""

import uuid

import pytest
from django.db import connection

from civicpulse.core.ratelimit import rate_limit_hit, rate_limit_refund
from civicpulse.core.redis_client import redis_client


@pytest.fixture
def who() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_the_request_over_the_limit_waits_until_its_window_ends(who: str) -> None:
    hits = [rate_limit_hit(who, limit=2, window_s=600) for _ in range(3)]
    assert [h.wait is None for h in hits] == [True, True, False]
    assert 0 < hits[2].wait <= 600
    assert int(redis_client().get(hits[0].key)) == 3


def test_a_refund_gives_back_the_place_it_took(who: str) -> None:
    first = rate_limit_hit(who, limit=1, window_s=600)
    rate_limit_refund(first)
    assert rate_limit_hit(who, limit=1, window_s=600).wait is None
    assert rate_limit_hit(who, limit=1, window_s=600).wait is not None


def test_a_refund_after_its_window_is_gone_creates_nothing(who: str) -> None:
    hit = rate_limit_hit(who, limit=5, window_s=600)
    redis_client().delete(hit.key)  # the window expired between the hit and the refund
    rate_limit_refund(hit)
    assert redis_client().exists(hit.key) == 0


def test_no_limit_counts_nothing(who: str) -> None:
    hit = rate_limit_hit(who, limit=0)
    assert hit.key is None and hit.wait is None
    rate_limit_refund(hit)  # nothing to give back, and no error


def test_each_tenant_counts_on_its_own(tenant_a, tenant_b, who: str) -> None:
    connection.set_tenant(tenant_a)
    in_a = rate_limit_hit(who, limit=1, window_s=600)
    connection.set_tenant(tenant_b)
    in_b = rate_limit_hit(who, limit=1, window_s=600)
    assert in_a.key != in_b.key and in_a.wait is None and in_b.wait is None
