"""The demo city's generated records go through the real loaders: every dataset loads in
full, parcels locate the tax sales, and the property views have risk to show."""

from pathlib import Path

from django.db import connection

from civicpulse.demo.records import DEMO_RECORDS, seed_records
from civicpulse.demo.tenants import DEMO_TENANTS


def test_seed_records_loads_every_dataset(tenant_a, tmp_path: Path) -> None:
    city = next(d for d in DEMO_TENANTS if d.kind == "city")
    ticks: list[int] = []
    batches = seed_records(
        center=city.center, places=40, counts=DEMO_RECORDS, directory=tmp_path, progress=ticks.append
    )
    assert set(batches) == set(DEMO_RECORDS)
    for dataset, batch in batches.items():
        assert batch.rows_rejected == 0, dataset
        assert batch.rows_loaded + batch.rows_skipped == DEMO_RECORDS[dataset], dataset
    assert sum(ticks) >= sum(DEMO_RECORDS.values())  # progress heard of every row
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM analytics_taxlienevent WHERE location_id IS NULL")
        assert cursor.fetchone()[0] == 0  # permits located every parcel first
        cursor.execute("SELECT tier, count(*) FROM property_scores GROUP BY tier")
        tiers = dict(cursor.fetchall())
    assert tiers.get("CRITICAL", 0) + tiers.get("HIGH", 0) > 0
