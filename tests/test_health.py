"""/healthz and /readyz report the database, Redis and the workers."""

import pytest

from tests.support.services import RedisServer, celery_worker


@pytest.fixture
def own_redis(settings):
    """Point the health checks at a Redis server this test can stop."""
    server = RedisServer().start()
    settings.CELERY_BROKER_URL = server.url
    yield server
    server.stop()


def test_readyz_is_503_while_redis_is_stopped(db, own_redis, public_client, client_a) -> None:
    ready = public_client.get("/readyz")
    # No worker serves this Redis: not ready, and it says which queues lack one.
    assert ready.status_code == 503
    assert ready.json()["redis"]["ok"] is True
    assert ready.json()["workers"] == {"ok": False, "queues": {"io": [], "cpu": []}}
    # Heartbeats of a worker per queue (as workers write them): ready.
    import redis as redis_lib

    beats = redis_lib.Redis.from_url(own_redis.url)
    beats.set("civicpulse:worker:io@test", '["io"]', ex=30)
    beats.set("civicpulse:worker:cpu@test", '["cpu"]', ex=30)
    assert public_client.get("/readyz").status_code == 200

    own_redis.stop()
    for client in (public_client, client_a):
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not ready"
        assert body["database"] == {"ok": True}
        assert body["redis"]["ok"] is False
        # Liveness only needs the database.
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["redis"]["ok"] is False


@pytest.mark.worker
def test_readyz_is_200_with_database_redis_and_both_queues_served(
    tenant_pair, public_client, django_db_blocker
) -> None:
    with django_db_blocker.unblock():
        with celery_worker("io", "threads", "io-ready"), celery_worker("cpu", "prefork", "cpu-ready"):
            response = public_client.get("/readyz")
    assert response.status_code == 200, response.content
    queues = response.json()["workers"]["queues"]
    assert any(w.startswith("io-ready@") for w in queues["io"])
    assert any(w.startswith("cpu-ready@") for w in queues["cpu"])


def test_queue_depth_reads_the_broker(test_redis) -> None:
    from civicpulse.core.redis_client import redis_client
    from civicpulse.core.workers import queue_depth

    client = redis_client()
    client.delete("depth-probe")
    client.rpush("depth-probe", "a", "b", "c")
    try:
        assert queue_depth("depth-probe") == 3
        assert queue_depth("no-such-queue") == 0
    finally:
        client.delete("depth-probe")
