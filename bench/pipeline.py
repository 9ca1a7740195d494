"""The pipeline alone: how fast it works off a backlog, and how soon a report is linked at a
steady rate.

    .venv/bin/python bench/pipeline.py [--reports 50000] [--io-workers 2] [--threads 8]
        [--rate 100] [--steady-seconds 30] [--no-backlog] [--no-steady] [--no-beat] [--keep]

A throwaway city tenant (`bench-pipeline`, recreated each run) gets `--reports` received
reports written straight into its table (as if the intake had taken them while no worker
ran: the texts and points of bench/ingest.py, a tenth of them repeats a few metres from an
earlier one). Then the `io` workers start as `make run` starts them (`--io-workers`
processes of `--threads` threads, and beat), one wake-up is sent as a submission sends it,
and the backlog is timed until nothing is left `received`.

Then the steady mode: after a 3-second warm-up at the same rate (not counted; each worker
process loads its embedding model on its first report), reports are submitted through `report_submit` (commit, then the
outbox's wake-up) at `--rate` per second for `--steady-seconds`, each one's commit time
noted, and the time from that commit (the moment the API answers 201) to the report being
linked to an issue (`processed_at`) is taken for each.

Prints `backlog_reports`, `drain_s`, `drain_reports_per_s` (goal: 500), `drain_failed`,
`drain_lost` (still received when the drain timed out), `issues`, `drain_worker_cpu_ms`
and `drain_pg_cpu_ms` (the CPU time the io workers and PostgreSQL spent per report
drained: steadier than the rate on a shared machine), then `steady_rate`,
`steady_submitted`, `p50_201_to_linked_ms`, `p95_201_to_linked_ms` (goal: under 2,000),
`steady_lost`, `steady_worker_cpu_ms` (the io workers' CPU time per report while they keep
up, idle polling included: what the pipeline takes from a machine it shares with the
intake), and `load_average` (1 minute, at the end of each part: the machine is
shared, so compare runs taken at a similar load). The workers run the development
settings with DEBUG on unless the environment says otherwise, as `make run` does. Worker
logs go to /tmp/bench-pipeline-*.log.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from _setup import ROOT, cpu_seconds, django_setup, drop_tenant, figure, percentile
from ingest import _report_body

SLUG = "bench-pipeline"
CHUNK = 5_000
WARM_UP_SECONDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=50_000, help="the backlog (the issue's: 50,000)")
    parser.add_argument("--io-workers", type=int, default=int(os.environ.get("IO_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=8, help="threads per io worker")
    parser.add_argument("--rate", type=float, default=100, help="steady mode: reports per second")
    parser.add_argument("--steady-seconds", type=float, default=30)
    parser.add_argument("--drain-timeout", type=float, default=900)
    parser.add_argument("--no-backlog", action="store_true")
    parser.add_argument("--no-steady", action="store_true")
    parser.add_argument("--no-beat", action="store_true", help="no sweeper beside the workers")
    parser.add_argument("--keep", action="store_true", help="keep the tenant")
    args = parser.parse_args()
    django_setup()
    from civicpulse.core.redis_client import redis_client
    from tenants.services import tenant_create

    drop_tenant(SLUG)
    redis_client().delete("io")  # messages an earlier run left for its dropped tenant
    tenant = tenant_create(slug=SLUG, name="Bench Pipeline", kind="city", timezone="America/Chicago")
    try:
        if not args.no_backlog:
            backlog_fill(tenant, args.reports)
        with pipeline_processes(args.io_workers, args.threads, beat=not args.no_beat) as procs:
            workers = [proc.pid for name, proc in procs.items() if name != "beat"]
            if not args.no_backlog:
                for name, value in drain_measure(tenant, args.reports, args.drain_timeout, workers).items():
                    figure(name, value)
                figure("load_average", round(os.getloadavg()[0], 2))
            if not args.no_steady:
                for name, value in steady_measure(tenant, args.rate, args.steady_seconds, workers).items():
                    figure(name, value)
                figure("load_average", round(os.getloadavg()[0], 2))
    finally:
        if not args.keep:
            drop_tenant(SLUG)


def report_bodies(count: int, seed: int = 20) -> Iterator[dict]:
    rng = random.Random(seed)
    sent: deque = deque(maxlen=200)
    for _ in range(count):
        yield json.loads(_report_body(rng, sent))


def backlog_fill(tenant: object, count: int) -> None:
    """`count` received reports, queued now, as the intake leaves them with no worker up."""
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from reports.models import Report

    now = timezone.now()
    bodies = report_bodies(count)
    with tenant_context(tenant):
        for start in range(0, count, CHUNK):
            Report.objects.bulk_create(
                [
                    Report(**body, submitted_at=now, enqueued_at=now, enqueue_count=1)
                    for body in (next(bodies) for _ in range(min(CHUNK, count - start)))
                ]
            )


def received(tenant: object) -> dict[str, int]:
    from django.db import connection
    from django_tenants.utils import tenant_context

    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM reports_report GROUP BY status")
        counts = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM issues_issue")
        counts["issues"] = cursor.fetchone()[0]
    return counts


def wake(tenant: object) -> None:
    """What a submission does after its commit."""
    from django_tenants.utils import tenant_context

    from reports.services.outbox import pipeline_wake

    with tenant_context(tenant):
        pipeline_wake()


def drain_measure(tenant: object, count: int, timeout: float, workers: list[int]) -> dict[str, object]:
    """Time the backlog's drain, and take the CPU time the io workers (process groups
    `workers`) and PostgreSQL spent on it: steadier than the rate on a shared machine."""

    def cpu() -> tuple[float, float]:
        return sum(cpu_seconds(group) for group in workers), cpu_seconds(None)

    workers_before, pg_before = cpu()
    started = time.monotonic()
    wake(tenant)
    counts = received(tenant)
    shown = started
    while counts.get("received", 0) and time.monotonic() - started < timeout:
        time.sleep(0.5)
        counts = received(tenant)
        if time.monotonic() - shown >= 5:  # progress, to stderr: how the rate ramps up
            shown = time.monotonic()
            print(f"{shown - started:.0f}s {counts}", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started
    workers_after, pg_after = cpu()
    done = counts.get("processed", 0) + counts.get("failed", 0)
    return {
        "backlog_reports": count,
        "drain_s": round(elapsed, 1),
        "drain_reports_per_s": round(done / elapsed, 1),
        "drain_failed": counts.get("failed", 0),
        "drain_lost": counts.get("received", 0),
        "issues": counts["issues"],
        "drain_worker_cpu_ms": round(1000 * (workers_after - workers_before) / done, 3) if done else None,
        "drain_pg_cpu_ms": round(1000 * (pg_after - pg_before) / done, 3) if done else None,
    }


def steady_load(tenant: object, rate: float, seconds: float, committed: dict[int, float]) -> None:
    """Submit at `rate` per second for `seconds`, noting each report's commit time."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from reports.services.intake import report_submit

    bodies = report_bodies(int(rate * seconds) + 1, seed=int(time.time()))
    started = time.monotonic()
    with tenant_context(tenant):
        for n in range(int(rate * seconds)):
            # Paced against the start, so a slow submission is caught up, not added up.
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            report = report_submit(**next(bodies)).report
            committed[report.pk] = time.time()
    connection.close()


def steady_measure(tenant: object, rate: float, seconds: float, workers: list[int]) -> dict[str, object]:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from reports.models import Report

    # Warm up first (each worker process loads its embedding model on its first report),
    # and let that backlog clear, so the figures are the steady state's.
    steady_load(tenant, rate, WARM_UP_SECONDS, {})
    deadline = time.monotonic() + 60
    while received(tenant).get("received", 0) and time.monotonic() < deadline:
        time.sleep(0.5)
    committed: dict[int, float] = {}
    workers_before = sum(cpu_seconds(group) for group in workers)
    sender = threading.Thread(target=steady_load, args=(tenant, rate, seconds, committed))
    sender.start()
    sender.join()
    deadline = time.monotonic() + 120
    while received(tenant).get("received", 0) and time.monotonic() < deadline:
        time.sleep(0.5)
    workers_spent = sum(cpu_seconds(group) for group in workers) - workers_before
    with tenant_context(tenant):
        done = {
            pk: at
            for pk, at in Report.objects.filter(pk__in=list(committed)).values_list("pk", "processed_at")
            if at is not None
        }
    connection.close()
    waits = [
        (done[pk] - datetime.fromtimestamp(at, tz=UTC)).total_seconds() * 1000
        for pk, at in committed.items()
        if pk in done
    ]
    p50, p95 = percentile(waits, 0.5), percentile(waits, 0.95)
    return {
        "steady_rate": rate,
        "steady_submitted": len(committed),
        "p50_201_to_linked_ms": None if p50 is None else round(p50),
        "p95_201_to_linked_ms": None if p95 is None else round(p95),
        "steady_lost": len(committed) - len(done),
        "steady_worker_cpu_ms": round(1000 * workers_spent / len(done), 3) if done else None,
    }


def io_worker_command(name: str, threads: int) -> list[str]:
    return [".venv/bin/celery", "-A", "civicpulse", "worker", "-Q", "io", "-P", "threads"] + [
        "-c",
        str(threads),
        "-n",
        f"{name}@%h",
        "--without-mingle",
        "--without-gossip",
        "-l",
        "WARNING",
    ]


def start_process(command: list[str], log_name: str) -> subprocess.Popen:
    with open(f"/tmp/bench-pipeline-{log_name}.log", "a") as log:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "DEBUG": os.environ.get("DEBUG", "true")},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_workers(names: list[str], timeout: float = 90) -> None:
    from civicpulse.core.workers import live_workers

    deadline = time.monotonic() + timeout
    while not all(any(seen.startswith(f"{name}@") for seen in live_workers()) for name in names):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the workers {names} did not start")
        time.sleep(0.5)


@contextmanager
def pipeline_processes(
    io_workers: int, threads: int, beat: bool = True
) -> Iterator[dict[str, subprocess.Popen]]:
    """The `io` workers (and beat), as scripts/run.sh starts them; yields them by name."""
    names = [f"bench-io{n}" for n in range(1, io_workers + 1)]
    procs = {name: start_process(io_worker_command(name, threads), name) for name in names}
    if beat:
        procs["beat"] = start_process(
            [
                ".venv/bin/celery",
                "-A",
                "civicpulse",
                "beat",
                "-l",
                "WARNING",
                "-s",
                "/tmp/bench-pipeline-beat",
            ],
            "beat",
        )
    try:
        wait_for_workers(names)
        yield procs
    finally:
        for proc in procs.values():
            stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


if __name__ == "__main__":
    main()
