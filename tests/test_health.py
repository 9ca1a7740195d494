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


@pytest.fixture
def operator_client(public_client):
    """The public host's client, signed in as the platform admin (a superuser there)."""
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    with schema_context("public"):
        operator = get_user_model().objects.create_superuser("health-op", "op@example.org", "x-password-1")
        public_client.force_login(operator)
    return public_client


def test_readyz_is_503_while_redis_is_stopped(db, own_redis, operator_client, client_a) -> None:
    public_client = operator_client
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
    response = public_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["database"] == {"ok": True}
    assert body["redis"]["ok"] is False
    # Liveness only needs the database.
    health = public_client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["redis"]["ok"] is False
    # A tenant's host gives the same codes, and no details to anyone.
    assert client_a.get("/readyz").status_code == 503
    assert client_a.get("/readyz").json() == {"status": "fail"}
    assert client_a.get("/healthz").json() == {"status": "ok"}


def test_anonymous_callers_and_tenant_staff_get_only_ok_or_fail(
    db, own_redis, public_client, client_a, tenant_pair
) -> None:
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    # Redis up but no worker: not ready; the database answers: alive.
    assert public_client.get("/readyz").status_code == 503
    assert public_client.get("/readyz").json() == {"status": "fail"}
    assert public_client.get("/healthz").status_code == 200
    assert public_client.get("/healthz").json() == {"status": "ok"}
    # A tenant's superuser is not the platform admin: no details on the tenant's host.
    with schema_context(tenant_pair[0].schema_name):
        staff = get_user_model().objects.create_superuser("tenant-admin", "t@example.org", "x-password-1")
        client_a.force_login(staff)
    assert client_a.get("/readyz").json() == {"status": "fail"}
    # A platform staff member who is not a superuser neither.
    with schema_context("public"):
        helper = get_user_model().objects.create_user("platform-helper", "h@example.org", "x-password-1")
        helper.is_staff = True
        helper.save()
        public_client.force_login(helper)
    assert public_client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.worker
def test_readyz_is_200_with_database_redis_and_both_queues_served(
    tenant_pair, operator_client, django_db_blocker
) -> None:
    with django_db_blocker.unblock():
        with celery_worker("io", "threads", "io-ready"), celery_worker("cpu", "prefork", "cpu-ready"):
            response = operator_client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"
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
