"""What one pipeline batch costs in CPU, in one thread: its fixed part and its part per report.

    .venv/bin/python bench/batch_cost.py [--batches 150] [--sizes 1,5,20] [--regions 5]

In a throwaway tenant (`bench-batch-cost`), for each size K: K reports are submitted over
the map, then claimed (`reports_claim_region`) and processed as one batch
(`reports_process_batch`), `--batches` times after 20 of warm-up; the thread's CPU time
(`time.thread_time`) of the claim and the batch is what is counted. Then a claim over
`--regions` regions of one report each, with the release of their locks, is timed alone
(the reports are put back as unclaimed between rounds), with the number of statements it
sends. At a steady rate a batch holds a few reports, so its fixed part is most of what the
workers spend per report (`bench/pipeline.py --no-backlog` measures that whole, with the
noise of the worker processes). Run it with no io worker running (not beside `make run`):
its submissions' wake-ups are deleted from the queue at the end. Figures:
`batch_cpu_ms_<K>` and `report_cpu_ms_<K>` for each size, `claim_cpu_ms` and
`claim_statements`.
"""

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from _setup import django_setup, drop_tenant, figure

SLUG = "bench-batch-cost"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--sizes", default="1,5,20", help="reports per batch, comma-separated")
    parser.add_argument("--regions", type=int, default=5, help="regions of the timed claim")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    django_setup()
    from django.db import connection
    from django_tenants.utils import tenant_context
    from pipeline import report_bodies

    from civicpulse.core.redis_client import redis_client
    from reports.models import Report
    from reports.services.batch import reports_process_batch
    from reports.services.intake import report_submit
    from reports.services.outbox import region_release, reports_claim_region
    from tenants.services import tenant_create

    drop_tenant(SLUG)
    redis_client().delete("io")  # messages an earlier run left for its dropped tenant
    tenant = tenant_create(slug=SLUG, name="Bench Batch Cost", kind="city", timezone="America/Chicago")
    bodies = report_bodies(sum(sizes) * (args.batches + 20) + args.regions, seed=5)

    def claim_and_process() -> int:
        ids, locks = reports_claim_region(limit=50)
        try:
            return reports_process_batch(report_ids=ids) if ids else 0
        finally:
            region_release(locks)

    try:
        with tenant_context(tenant):
            for size in sizes:
                spent = 0.0
                processed = 0
                for round_ in range(20 + args.batches):
                    for _ in range(size):
                        report_submit(**next(bodies))
                    started = time.thread_time()
                    done = claim_and_process()
                    if round_ >= 20:
                        spent += time.thread_time() - started
                        processed += done
                    print(f"size {size}: batch {round_ + 1}/{20 + args.batches}", end="\r", file=sys.stderr)
                print(file=sys.stderr)
                figure(f"batch_cpu_ms_{size}", round(1000 * spent / args.batches, 3))
                figure(f"report_cpu_ms_{size}", round(1000 * spent / max(processed, 1), 3))

            # Reports a region apart (0.05° of latitude: more than one region of REGION_DEG).
            for index in range(args.regions):
                body = next(bodies)
                body["latitude"] = 39.7 + 0.05 * index
                report_submit(**body)

            def claim_once() -> list[int]:
                ids, locks = reports_claim_region(limit=50)
                region_release(locks)
                return ids

            def unclaim(ids: list[int]) -> None:
                Report.objects.filter(pk__in=ids).update(attempts=0, processing_started_at=None)

            unclaim(claim_once())
            sent: list[str] = []

            def counted(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
                sent.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(counted):
                ids = claim_once()
            unclaim(ids)
            spent = 0.0
            for _ in range(args.batches):
                started = time.thread_time()
                ids = claim_once()
                spent += time.thread_time() - started
                unclaim(ids)
            figure("claim_statements", len(sent))
            figure("claim_cpu_ms", round(1000 * spent / args.batches, 3))
    finally:
        drop_tenant(SLUG)
        # The wake-ups its submissions sent: no worker is to drain a dropped tenant.
        redis_client().delete("io")


if __name__ == "__main__":
    main()
