"""One rate limiter for every door: the API (per key and per anonymous client), Open311
and the resident form.

A fixed window in Redis, counted increment-first: INCR is atomic, so two requests racing
for the last place in a window cannot both get it, as a read-then-write check would let
them. Keys carry the tenant's schema, so tenants never share a budget. Redis down lets
the request through: throttling must never take intake down.
"""

import ipaddress
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from civicpulse.core.redis_client import redis_client
from civicpulse.core.tenancy import current_schema

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitHit:
    """One request counted: the key of the window it was counted in (None when nothing
    was counted: no limit, or Redis unreachable), and the seconds until that window ends
    when the request went over the limit (None: let it through)."""

    key: str | None
    wait: float | None


# DECR only a window that still exists: a refund arriving after its window expired must
# not create a key (at -1, with no expiry) that would hand out an extra place later.
_REFUND = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0"


def rate_limit_hit(who: str, *, limit: int, window_s: int = 60, scope: str = "throttle") -> RateLimitHit:
    """Count one request of `who` in the current window; over `limit` it must wait. A limit
    of 0 or less means no limit."""
    if limit <= 0:
        return RateLimitHit(key=None, wait=None)
    now = time.time()
    key = f"cp:{current_schema()}:{scope}:{who}:{int(now // window_s)}"
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window_s * 2)
        count = int(pipe.execute()[0])
    except Exception as exc:
        # Whatever keeps the count from Redis (down, slow, misconfigured) lets the request
        # through: throttling must never take intake down. Said in the logs, so a throttle
        # that is off does not go unnoticed.
        logger.warning("rate limit not counted", extra={"scope": scope, "error": repr(exc)})
        return RateLimitHit(key=None, wait=None)
    return RateLimitHit(key=key, wait=window_s - now % window_s if count > limit else None)


def rate_limit_refund(hit: RateLimitHit) -> None:
    """Give back a counted request, for a caller that only counts what it accepts (the
    resident form does not charge a report the service turned down)."""
    if hit.key is None:
        return
    try:
        redis_client().eval(_REFUND, 1, hit.key)
    except Exception as exc:
        # The place stays used until the window ends: the safe side.
        logger.warning("rate limit refund lost", extra={"key": hit.key, "error": repr(exc)})


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_HOPS proxies the entry
    they appended to X-Forwarded-For (entries further left are the client's to forge)."""
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return _without_port(forwarded[-hops])
    return str(request.META.get("REMOTE_ADDR", ""))


def _without_port(entry: str) -> str:
    """An X-Forwarded-For entry without the port some proxies append (`1.2.3.4:5678`,
    `[2001:db8::1]:5678`): kept, every connection of one client would count apart."""
    if entry.startswith("["):
        return entry[1:].split("]", 1)[0]
    if entry.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several
        return entry.split(":", 1)[0]
    return entry


# One IPv6 subscriber is routinely given a whole /64 (and can pick any address in it at
# will), so per-address limits count the /64, as IPv4 counts the one address.
IPV6_RATE_PREFIX = 64


def address_rate_key(address: str) -> str:
    """What a per-address limit counts `address` as: an IPv4 address itself (also when
    written IPv4-mapped, ::ffff:a.b.c.d), an IPv6 address its /64 network; anything
    unparseable as it is."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_RATE_PREFIX), strict=False))
    return str(ip)


def client_rate_key(request: HttpRequest) -> str:
    """The key anonymous per-address limits use for this request's client."""
    return address_rate_key(client_address(request))
