"""Worker heartbeats in Redis, so web processes can tell whether each queue is served.

Each worker process writes a key with a short expiry every few seconds; a worker that
dies simply stops renewing it.
"""

import json
import socket
import threading
from typing import cast

import redis
from django.conf import settings

from civicpulse.core.redis_client import redis_client

QUEUES = ("io", "cpu")
_KEY_PREFIX = "civicpulse:worker:"


def queue_depth(queue: str) -> int:
    """Messages waiting in a Celery queue (a Redis list named after it); 0 if unknown."""
    try:
        return int(cast(int, redis_client().llen(queue)))
    except redis.RedisError:
        return 0


def live_workers() -> dict[str, list[str]]:
    """Worker hostname -> the queues it consumes, for every worker seen recently."""
    client = redis_client()
    keys = list(client.scan_iter(match=f"{_KEY_PREFIX}*", count=500))
    if not keys:
        return {}
    found: dict[str, list[str]] = {}
    values = cast(list[bytes | None], client.mget(keys))
    for key, value in zip(keys, values, strict=True):
        if value is not None:
            found[key.decode()[len(_KEY_PREFIX) :]] = json.loads(value)
    return found


class Heartbeat:
    """Renews this worker's key until stopped. Started from the worker_ready signal."""

    def __init__(self, hostname: str, queues: list[str]) -> None:
        self.key = f"{_KEY_PREFIX}{hostname or socket.gethostname()}"
        self.value = json.dumps(sorted(queues))
        self.ttl = settings.WORKER_HEARTBEAT_TTL
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            redis_client().delete(self.key)
        except redis.RedisError:
            pass

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                redis_client().set(self.key, self.value, ex=self.ttl)
            except redis.RedisError:
                pass  # Redis is down: /readyz says so on its own.
            self._stop.wait(self.ttl / 3)
