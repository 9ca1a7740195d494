"""Property risk profiles at city scale: generated records for 100,000 locations loaded
through the real loaders, then the rule engine's views timed.

    .venv/bin/python bench/property.py [--locations 100000] [--scale 1.0]
        [--autocomplete-locations 1000000] [--keep]

Loads, for `--locations` addresses (civicpulse/demo/records.py generates them), a million
building violations, 200,000 food inspections, 300,000 permits, 50,000 tax sale events
and 20,000 vacant-building violations (times `--scale`), each file through
`import_records` into a fresh city tenant (`bench-property`), and prints:

- `rows_<dataset>` and `load_rows_per_s_<dataset>`: rows loaded and the end-to-end rate
  (COPY, checks, addresses, locations, parcels, records) of each dataset's file;
- `summary_view_ms`: the whole `property_location_summary` view computed once (every
  location's row), and `summary_location_ms_p50` / `_p95` over 200 random locations
  (the read a report makes), with `scores_view_ms` for the whole `property_scores`;
- `report_ms_p50` / `report_ms_p95`: a property report (lookup by address, findings,
  narrative without a model, stored) for 200 random addresses, and
  `autocomplete_p50_ms` / `autocomplete_p95_ms` over 200 partial addresses, some with a
  typo (bench/_property_reports.py). With `--autocomplete-locations N` the tenant is
  first topped up to N locations (`autocomplete_locations`) by generated addresses on
  800 streets, without records, so that the autocomplete is timed at a million
  locations without loading ten million records.

The tenant is dropped at the end unless --keep (a kept tenant is reused by later runs
of the report part without loading again; locations added for the autocomplete stay).
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from _property_reports import autocomplete_figures, locations_fill, report_figures
from _setup import django_setup, drop_tenant, figure, percentile

SLUG = "bench-property"
COUNTS = {
    "violations": 1_000_000,
    "inspections": 200_000,
    "permits": 300_000,
    "tax_sales": 50_000,
    "vacant_buildings": 20_000,
}


def load(locations: int, scale: float) -> None:
    from civicpulse.demo.records import seed_records

    counts = {d: max(1, int(n * scale)) for d, n in COUNTS.items()}

    def timed(dataset: str, batch: object, seconds: float) -> None:
        figure(f"rows_{dataset}", batch.rows_loaded)  # type: ignore[attr-defined]
        figure(f"load_rows_per_s_{dataset}", round(batch.rows_read / seconds))  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory(prefix="bench-property-") as tmp:
        seed_records(
            center=(41.8781, -87.6298), places=locations, counts=counts, directory=Path(tmp), timed=timed
        )


def views() -> list[int]:
    """Time the views; returns the location ids, for the report part."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        started = time.perf_counter()
        cursor.execute("SELECT count(*), sum(active_violations) FROM property_location_summary")
        cursor.fetchone()
        figure("summary_view_ms", round((time.perf_counter() - started) * 1000))
        started = time.perf_counter()
        cursor.execute("SELECT tier, count(*) FROM property_scores GROUP BY tier ORDER BY tier")
        tiers = cursor.fetchall()
        figure("scores_view_ms", round((time.perf_counter() - started) * 1000))
        figure("tiers", " ".join(f"{t}={n}" for t, n in tiers))
        cursor.execute("SELECT id FROM reports_location")
        ids = [r[0] for r in cursor.fetchall()]
        sample = random.Random(7).sample(ids, min(200, len(ids)))
        times = []
        for location_id in sample:
            started = time.perf_counter()
            cursor.execute("SELECT * FROM property_location_summary WHERE location_id = %s", [location_id])
            cursor.fetchall()
            cursor.execute("SELECT * FROM property_scores WHERE location_id = %s", [location_id])
            cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
        figure("summary_location_ms_p50", round(percentile(times, 0.5) or 0, 1))
        figure("summary_location_ms_p95", round(percentile(times, 0.95) or 0, 1))
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--locations", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full record counts")
    parser.add_argument(
        "--autocomplete-locations",
        type=int,
        default=0,
        help="before the autocomplete figures, add generated locations (no records) up to this many",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup()
    from django.db import connection
    from django_tenants.utils import tenant_context

    from reports.models import Location
    from tenants.models import Tenant
    from tenants.services import tenant_create

    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(schema_name=SLUG).first()
    fresh = tenant is None
    if tenant is None:
        tenant = tenant_create(slug=SLUG, name="Bench Property", kind="city", timezone="America/Chicago")
    try:
        with tenant_context(tenant):
            figure("locations", args.locations)
            if fresh:
                load(args.locations, args.scale)
            ids = views()
            report_figures(ids)
            if args.autocomplete_locations:
                figure("autocomplete_locations", locations_fill(args.autocomplete_locations))
                ids = list(Location.objects.values_list("pk", flat=True))
            autocomplete_figures(ids)
    finally:
        if not args.keep:
            drop_tenant(SLUG)


if __name__ == "__main__":
    sys.exit(main())
