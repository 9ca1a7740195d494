"""The one Redis client of a process: the broker's Redis, with short timeouts so that an
outage slows down nothing that does not need Redis."""

import functools

import redis
from django.conf import settings


def redis_client() -> redis.Redis:
    """A client for the broker's Redis, sharing one connection pool per process."""
    return _client_for(settings.CELERY_BROKER_URL, settings.REDIS_SOCKET_TIMEOUT)


@functools.lru_cache(maxsize=8)
def _client_for(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
