"""A semaphore in Redis: at most N model calls in flight per endpoint across every
worker process, and at most M of them for any one tenant, so one tenant's burst cannot
take every slot of a model other tenants share. Each holder is a member of two sorted
sets (the endpoint's and the tenant's on it) scored by when its claim expires, so a
worker that dies mid-call frees its slot by itself.

The circuit breaker is kept per endpoint and tenant: one tenant whose calls keep failing
(a model name the server refuses, a timeout too short) leaves that endpoint alone for
itself only, never for the other tenants on the same host."""

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import redis

from civicpulse.core.redis_client import redis_client

# KEYS: the endpoint's set, the tenant's set. ARGV: now, expiry, token, endpoint limit,
# tenant limit, key lifetime in ms. Both sets are checked and joined in one step.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) and redis.call('ZCARD', KEYS[2]) < tonumber(ARGV[5]) then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
    redis.call('PEXPIRE', KEYS[1], ARGV[6])
    redis.call('PEXPIRE', KEYS[2], ARGV[6])
    return 1
end
return 0
"""


class NoSlot(Exception):
    """No slot came free in time (or Redis could not be asked)."""


@contextmanager
def model_slot(
    endpoint: str, *, tenant: str, limit: int, tenant_limit: int, hold_s: float, wait_s: float
) -> Iterator[None]:
    """Hold one of `limit` slots of `endpoint` for the body, and one of the `tenant_limit`
    of those that `tenant` may hold at once, waiting up to `wait_s`. A claim lapses after
    `hold_s` (the call's timeout plus a margin) if never released."""
    keys = (f"civicpulse:llm:slots:{endpoint}", f"civicpulse:llm:slots:{endpoint}:tenant:{tenant}")
    token = secrets.token_hex(8)
    client = redis_client()
    deadline = time.monotonic() + wait_s
    pause = 0.02
    try:
        while True:
            now = time.time()
            got = client.eval(
                _ACQUIRE, 2, *keys, now, now + hold_s, token, limit, tenant_limit, int(hold_s * 2000) + 1000
            )
            if got:
                break
            if time.monotonic() + pause > deadline:
                raise NoSlot(f"{limit} calls (or {tenant_limit} of this tenant's) already in flight")
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
    except redis.RedisError as exc:
        raise NoSlot(f"limiter unavailable: {exc}") from exc
    try:
        yield
    finally:
        try:
            client.zrem(keys[0], token)
            client.zrem(keys[1], token)
        except redis.RedisError:
            pass  # the claim lapses by itself


# A circuit breaker per endpoint and tenant: after this many transient faults within the
# window, the endpoint is left alone (by that tenant) for the cool-down, so a model that is
# down costs each report no time instead of every retry's timeout.
BREAKER_FAULTS = 5
BREAKER_WINDOW_S = 60
BREAKER_COOLDOWN_S = 30


def _breaker_key(kind: str, endpoint: str, tenant: str) -> str:
    return f"civicpulse:llm:{kind}:{endpoint}:tenant:{tenant}"


def circuit_open(endpoint: str, *, tenant: str) -> bool:
    try:
        return bool(redis_client().exists(_breaker_key("open", endpoint, tenant)))
    except redis.RedisError:
        return False  # without Redis the slot limiter refuses anyway


def circuit_record_fault(endpoint: str, *, tenant: str) -> bool:
    """Count a transient fault (timeout, 5xx, unreachable) of this tenant's calls; enough
    of them open the circuit for this tenant. True when this one did."""
    key = _breaker_key("faults", endpoint, tenant)
    try:
        client = redis_client()
        faults = cast(int, client.incr(key))
        if faults == 1:
            client.expire(key, BREAKER_WINDOW_S)
        if faults >= BREAKER_FAULTS:
            client.set(_breaker_key("open", endpoint, tenant), 1, ex=BREAKER_COOLDOWN_S)
            client.delete(key)
            return True
    except redis.RedisError:
        pass
    return False
