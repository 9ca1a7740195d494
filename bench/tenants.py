"""Provisioning speed: create N tenants, then time `migrate_schemas` with nothing to apply.

    .venv/bin/python bench/tenants.py [--count 200] [--keep]

Prints `median_create_s`, `p95_create_s`, `max_create_s`, `migrate_all_s` and
`tenants_migrated`. The benchmark tenants (slug prefix `bench-t-`) are removed afterwards
unless --keep is given.
"""

import argparse
import io
import statistics
import sys
import time

from _setup import django_setup, drop_tenant, figure, percentile


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the tenants afterwards")
    args = parser.parse_args()
    django_setup()

    from django.core.management import call_command
    from tqdm import tqdm

    from tenants.models import Tenant
    from tenants.services import tenant_create

    prefix = "bench-t-"
    _drop(prefix)
    durations: list[float] = []
    for i in tqdm(range(args.count), desc="creating tenants", unit="tenant", file=sys.stderr):
        kind = ("city", "building", "campus", "hotel", "facility")[i % 5]
        started = time.perf_counter()
        tenant_create(slug=f"{prefix}{i:04d}", name=f"Bench tenant {i}", kind=kind)
        durations.append(time.perf_counter() - started)

    durations.sort()
    figure("tenants_created", len(durations))
    figure("median_create_s", round(statistics.median(durations), 3))
    figure("p95_create_s", round(percentile(durations, 0.95), 3))
    figure("max_create_s", round(durations[-1], 3))

    started = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0, stdout=io.StringIO())
    figure("migrate_all_s", round(time.perf_counter() - started, 2))
    figure("tenants_migrated", Tenant.objects.exclude(schema_name="public").count() + 1)

    if not args.keep:
        _drop(prefix)


def _drop(prefix: str) -> None:
    from tenants.models import Tenant

    for slug in Tenant.objects.filter(schema_name__startswith=prefix).values_list("schema_name", flat=True):
        drop_tenant(slug)


if __name__ == "__main__":
    main()
