"""A semaphore in Redis: at most N model calls in flight per endpoint across every
worker process. Each holder is a member of a sorted set scored by when its claim
expires, so a worker that dies mid-call frees its slot by itself."""

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import redis

from civicpulse.core.redis_client import redis_client

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
    return 1
end
return 0
"""


class NoSlot(Exception):
    """No slot came free in time (or Redis could not be asked)."""


@contextmanager
def model_slot(endpoint: str, *, limit: int, hold_s: float, wait_s: float) -> Iterator[None]:
    """Hold one of `limit` slots of `endpoint` for the body, waiting up to `wait_s`.
    A claim lapses after `hold_s` (the call's timeout plus a margin) if never released."""
    key = f"civicpulse:llm:slots:{endpoint}"
    token = secrets.token_hex(8)
    client = redis_client()
    deadline = time.monotonic() + wait_s
    pause = 0.02
    try:
        while True:
            now = time.time()
            got = client.eval(_ACQUIRE, 1, key, now, now + hold_s, token, limit, int(hold_s * 2000) + 1000)
            if got:
                break
            if time.monotonic() + pause > deadline:
                raise NoSlot(f"{limit} calls already in flight")
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
    except redis.RedisError as exc:
        raise NoSlot(f"limiter unavailable: {exc}") from exc
    try:
        yield
    finally:
        try:
            client.zrem(key, token)
        except redis.RedisError:
            pass  # the claim lapses by itself


# A circuit breaker per endpoint: after this many transient faults within the window, the
# endpoint is left alone for the cool-down, so a model that is down costs each report no
# time instead of every retry's timeout.
BREAKER_FAULTS = 5
BREAKER_WINDOW_S = 60
BREAKER_COOLDOWN_S = 30


def circuit_open(endpoint: str) -> bool:
    try:
        return bool(redis_client().exists(f"civicpulse:llm:open:{endpoint}"))
    except redis.RedisError:
        return False  # without Redis the slot limiter refuses anyway


def circuit_record_fault(endpoint: str) -> bool:
    """Count a transient fault (timeout, 5xx, unreachable); enough of them open the
    circuit. True when this one did."""
    key = f"civicpulse:llm:faults:{endpoint}"
    try:
        client = redis_client()
        faults = cast(int, client.incr(key))
        if faults == 1:
            client.expire(key, BREAKER_WINDOW_S)
        if faults >= BREAKER_FAULTS:
            client.set(f"civicpulse:llm:open:{endpoint}", 1, ex=BREAKER_COOLDOWN_S)
            client.delete(key)
            return True
    except redis.RedisError:
        pass
    return False
