"""Tenant-aware tasks through real Celery workers and Redis: each runs in its tenant's schema."""

import pytest
from django_tenants.utils import schema_context, tenant_context

from issues.defaults import CATEGORIES_BY_KIND
from tenants.tasks import schema_probe
from tests.support.services import celery_worker

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module")
def workers(tenant_pair, django_db_blocker):
    with django_db_blocker.unblock():
        with celery_worker("io", "threads", "io-test"), celery_worker("cpu", "prefork", "cpu-test"):
            yield


@pytest.mark.parametrize("queue", ["io", "cpu"])
def test_task_runs_in_the_schema_it_was_sent_from(workers, tenant_pair, queue: str) -> None:
    for tenant in tenant_pair:
        with tenant_context(tenant):
            answer = schema_probe.apply_async(queue=queue).get(timeout=30)
        assert answer["schema"] == tenant.schema_name
        assert answer["tenant"] == tenant.name
        # The worker read the tenant's own table: the number of categories of its kind.
        assert answer["categories"] == len(CATEGORIES_BY_KIND[tenant.kind])
        # What the worker loaded before its first task was frozen (a prefork process
        # inherits it from the worker that forked it): 0 without the freeze.
        assert answer["frozen_objects"] > 10_000


def test_task_sent_from_public_runs_in_public(workers, tenant_pair) -> None:
    with schema_context("public"):
        answer = schema_probe.apply_async(queue="io").get(timeout=30)
    assert answer["schema"] == "public"
    assert answer["categories"] is None


def test_check_workers_command(workers, tenant_pair, capsys) -> None:
    from django.core.management import call_command

    call_command("check_workers", "beta-hotel")
    out = capsys.readouterr().out
    assert "io: schema=beta-hotel" in out and "cpu: schema=beta-hotel" in out
