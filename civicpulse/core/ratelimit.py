"""One rate limiter for every door: the API (per key and per anonymous client), Open311
and the resident form.

A fixed window in Redis, counted increment-first: INCR is atomic, so two requests racing
for the last place in a window cannot both get it, as a read-then-write check would let
them. Keys carry the tenant's schema, so tenants never share a budget. Redis down lets
the request through: throttling must never take intake down.
"""

import time

import redis
from django.conf import settings
from django.http import HttpRequest

from civicpulse.core.tenancy import current_schema
from civicpulse.core.workers import redis_client


def _window_key(scope: str, who: str, window_s: int, now: float) -> str:
    return f"cp:{current_schema()}:{scope}:{who}:{int(now // window_s)}"


def rate_limit_hit(who: str, *, limit: int, window_s: int = 60, scope: str = "throttle") -> float | None:
    """Count one request of `who` and return the seconds until its window ends if that
    made it exceed `limit`, else None. A limit of 0 or less means no limit."""
    if limit <= 0:
        return None
    now = time.time()
    key = _window_key(scope, who, window_s, now)
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window_s * 2)
        count = int(pipe.execute()[0])
    except redis.RedisError:
        return None
    return window_s - now % window_s if count > limit else None


def rate_limit_refund(who: str, *, window_s: int = 60, scope: str = "throttle") -> None:
    """Give back the request just counted, for a caller that only counts what it accepts
    (the resident form does not charge a report the service turned down)."""
    key = _window_key(scope, who, window_s, time.time())
    try:
        redis_client().decr(key)
    except redis.RedisError:
        pass


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_HOPS proxies the entry
    they appended to X-Forwarded-For (entries further left are the client's to forge)."""
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR", ""))
