"""The pipeline across real process boundaries: a real Redis, real Celery workers, committed
rows. Runs in a tenant of its own that is dropped afterwards, because these tests commit."""

import os
import signal
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from civicpulse.apikeys.services import api_key_create
from issues.geo import cells_within
from issues.models import Issue, IssueEvent
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.pipeline import processing_stale_after, report_process, report_sweep_stuck
from tenants.models import Tenant
from tests.support.services import celery_worker, child_database_url, committed_tenant, wait_for

pytestmark = pytest.mark.worker
SLUG = "live-pipeline"


@pytest.fixture(scope="module")
def live(django_db_setup, django_db_blocker) -> Iterator[Tenant]:
    """A committed tenant; every test here runs with the database unblocked, no transaction."""
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Live Pipeline", "city") as tenant:
        yield tenant


@pytest.fixture
def key(live) -> str:
    with tenant_context(live):
        return api_key_create(name="live", scopes=["submit", "read"])[1]


def _post(key: str, body: dict):
    return Client(HTTP_HOST=f"{SLUG}.localhost").post(
        "/api/v1/reports/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}"
    )


def _report(live: Tenant, tracking_id: str) -> Report:
    with tenant_context(live):
        return Report.objects.select_related("issue").get(tracking_id=tracking_id)


def _wait_processed(live: Tenant, tracking_id: str, timeout: float = 60) -> Report:
    wait_for(
        lambda: _report(live, tracking_id).status == "processed", timeout, f"report {tracking_id} processed"
    )
    return _report(live, tracking_id)


def test_a_report_posted_over_http_is_processed_by_a_worker(live, key) -> None:
    with celery_worker("io", "threads", "io-live"):
        response = _post(
            key, {"description": "Street light out at the corner", "latitude": 39.71, "longitude": -89.61}
        )
        assert response.status_code == 201
        report = _wait_processed(live, response.json()["tracking_id"])
    assert report.issue is not None and report.category.code == "street_lights"


def test_201_while_redis_is_stopped_then_processed_once_redis_is_back(live, key, test_redis) -> None:
    test_redis.stop(keep_dir=True)
    try:
        started = time.monotonic()
        response = _post(
            key, {"description": "Graffiti on the bridge", "latitude": 39.72, "longitude": -89.62}
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 201, response.content
        assert elapsed < 5, f"intake waited {elapsed:.1f}s on the dead broker"
        tracking_id = response.json()["tracking_id"]
        assert _report(live, tracking_id).status == "received"
    finally:
        test_redis.start()
    with celery_worker("io", "threads", "io-redis-back"):
        with tenant_context(live):
            # The wake-up failed, so the sweep's next run takes the report, with no wait.
            swept = report_sweep_stuck()
        assert swept["requeued"] >= 1
        report = _wait_processed(live, tracking_id)
    assert report.issue is not None


def _lock_keys(lat: float, lon: float) -> list[tuple[int, int]]:
    def signed(v: int) -> int:
        return v - (1 << 32) if v >= (1 << 31) else v

    space = signed(zlib.crc32(SLUG.encode()))
    return [(space, signed(zlib.crc32(f"cell:{r}:{c}".encode()))) for r, c in cells_within(lat, lon, 50)]


def test_a_worker_killed_mid_task_loses_nothing(live, key) -> None:
    lat, lon = 39.73, -89.63
    # Hold the grouping locks of this neighbourhood from outside, so the worker stops
    # inside its transaction, mid-task, where we can kill it.
    blocker = psycopg.connect(child_database_url(), autocommit=True)
    for space, cell in _lock_keys(lat, lon):
        blocker.execute("SELECT pg_advisory_lock(%s, %s)", [space, cell])
    try:
        with celery_worker("io", "threads", "io-doomed") as worker:
            tracking_id = _post(
                key, {"description": "Water main leaking", "latitude": lat, "longitude": lon}
            ).json()["tracking_id"]
            wait_for(
                lambda: (
                    blocker.execute(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    ).fetchone()[0]
                    > 0
                ),
                60,
                "the worker to wait on the grouping lock",
            )
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
    finally:
        blocker.close()  # releases the locks
    report = _report(live, tracking_id)
    assert report.status == "received" and report.attempts == 1 and report.issue is None
    assert report.processing_started_at is not None

    with celery_worker("io", "threads", "io-rescuer"):
        with tenant_context(live):
            # While the dead worker's start is recent the report still looks taken...
            assert report_sweep_stuck(now=timezone.now() + timedelta(seconds=61))["requeued"] == 0
            # ...once it is stale, the worker is taken for dead and the report re-queued.
            later = timezone.now() + processing_stale_after() + timedelta(seconds=61)
            assert report_sweep_stuck(now=later)["requeued"] >= 1
        report = _wait_processed(live, tracking_id)
    with tenant_context(live):
        assert Issue.objects.get(pk=report.issue_id).report_count == 1
        assert IssueEvent.objects.filter(issue_id=report.issue_id).count() == 1
    assert report.attempts == 2


def test_concurrent_near_identical_reports_end_in_one_issue(live) -> None:
    with tenant_context(live):
        rounds = []
        for n in range(3):
            lat = 39.75 + n * 0.01
            rounds.append(
                [
                    report_submit(
                        description="Fallen tree blocking the path",
                        latitude=lat + i * 0.00001,
                        longitude=-89.65,
                    ).report.pk
                    for i in range(6)
                ]
            )

    def run(report_id: int, barrier: threading.Barrier) -> None:
        try:
            connection.set_tenant(live)
            barrier.wait(10)
            report_process(report_id=report_id)
        finally:
            connections.close_all()

    for ids in rounds:
        barrier = threading.Barrier(len(ids))
        threads = [threading.Thread(target=run, args=(pk, barrier)) for pk in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        with tenant_context(live):
            issues = set(Report.objects.filter(pk__in=ids).values_list("issue_id", flat=True))
            assert len(issues) == 1 and None not in issues
            assert Issue.objects.get(pk=issues.pop()).report_count == len(ids)


def test_two_worker_processes_never_process_the_same_report(live) -> None:
    from reports.tasks import drain_reports

    with tenant_context(live):
        ids = [
            report_submit(
                description=f"Broken bench number {n} in the park",
                latitude=39.60 + n * 0.001,
                longitude=-89.70,
            ).report.pk
            for n in range(120)
        ]
        # Drains enough for both processes, which then claim from the same rows at once.
        for _ in range(6):
            drain_reports.apply_async(retry=False)
    with celery_worker("io", "threads", "io-claim-1"), celery_worker("io", "threads", "io-claim-2"):
        with tenant_context(live):
            wait_for(
                lambda: not Report.objects.filter(pk__in=ids, status="received").exists(),
                120,
                "every report processed",
            )
    with tenant_context(live):
        reports = Report.objects.filter(pk__in=ids)
        assert set(reports.values_list("status", flat=True)) == {"processed"}
        # Each claim counts an attempt: one each means no report was taken twice.
        assert set(reports.values_list("attempts", flat=True)) == {1}
        issue_ids = set(reports.values_list("issue_id", flat=True))
        assert sum(Issue.objects.filter(pk__in=issue_ids).values_list("report_count", flat=True)) == 120
