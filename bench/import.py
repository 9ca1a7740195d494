"""Bulk import speed: generate a Chicago-layout 311 file, import it into a fresh tenant,
and compare with the raw COPY rate of the same file into an empty table.

    .venv/bin/python bench/import.py [--rows 1000000] [--keep]

Prints `rows`, `file_mb`, `import_s`, `rows_per_s` (end to end: read, stage, validate,
load issues and reports), `copy_rows_per_s` (COPY of the same CSV into a plain table of
text columns, measured in the same run) and `share_of_copy`. The tenant (`bench-import`)
and the file are removed unless --keep.
"""
import argparse
import csv
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from _setup import django_setup, figure

SLUG = "bench-import"
HEADER = ["SR_NUMBER", "SR_TYPE", "SR_SHORT_CODE", "CREATED_DEPARTMENT", "OWNER_DEPARTMENT", "STATUS", "ORIGIN",
          "CREATED_DATE", "LAST_MODIFIED_DATE", "CLOSED_DATE", "STREET_ADDRESS", "CITY", "STATE", "ZIP_CODE",
          "STREET_NUMBER", "STREET_DIRECTION", "STREET_NAME", "STREET_TYPE", "DUPLICATE", "LEGACY_RECORD",
          "LEGACY_SR_NUMBER", "PARENT_SR_NUMBER", "COMMUNITY_AREA", "WARD", "ELECTRICAL_DISTRICT", "ELECTRICITY_GRID",
          "POLICE_SECTOR", "POLICE_DISTRICT", "POLICE_BEAT", "PRECINCT", "SANITATION_DIVISION_DAYS", "CREATED_HOUR",
          "CREATED_DAY_OF_WEEK", "CREATED_MONTH", "X_COORDINATE", "Y_COORDINATE", "LATITUDE", "LONGITUDE", "LOCATION"]
TYPES = [("Pothole in Street Complaint", "PHF"), ("Street Light Out Complaint", "SLA"),
         ("Graffiti Removal Request", "GRAF"), ("Garbage Cart Maintenance", "SGA"),
         ("Abandoned Vehicle Complaint", "SKA"), ("Tree Debris Clean-Up", "SEE"), ("Water On Street Complaint", "AAF"),
         ("Traffic Signal Out Complaint", "SFD"), ("Sidewalk Inspection Request", "CSF"), ("Noise Complaint", "NOI")]
STREETS = ["STATE", "MADISON", "CLARK", "HALSTED", "ASHLAND", "WESTERN", "PULASKI", "CICERO", "ARCHER", "MILWAUKEE"]


def generate(path: Path, rows: int) -> None:
    """A year of requests over the city, about 5 % duplicates of an earlier request."""
    rng = random.Random(311)
    start = datetime(2024, 1, 1)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for n in range(rows):
            created = start + timedelta(seconds=int(n * 31_536_000 / rows))
            sr_type, code = TYPES[n % len(TYPES)]
            status = "Completed" if rng.random() < 0.8 else "Open"
            closed = (created + timedelta(hours=rng.randint(1, 400))).strftime("%m/%d/%Y %I:%M:%S %p") if status == "Completed" else ""
            parent = f"SR{rng.randint(max(0, n - 500), n - 1):08d}" if n and rng.random() < 0.05 else ""
            number, street = rng.randint(1, 9999), rng.choice(STREETS)
            lat, lon = 41.65 + rng.random() * 0.35, -87.85 + rng.random() * 0.33
            writer.writerow([
                f"SR{n:08d}", sr_type, code, "", "", "Completed - Dup" if parent else status, "Phone Call",
                created.strftime("%m/%d/%Y %I:%M:%S %p"), "", closed, f"{number} N {street} ST", "CHICAGO", "IL",
                "60602", number, "N", street, "ST", "true" if parent else "false", "false", "", parent, "", "", "", "",
                "", "", "", "", "", created.hour, created.weekday(), created.month, "", "", f"{lat:.6f}", f"{lon:.6f}",
                f"({lat:.6f}, {lon:.6f})",
            ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup()

    from django.db import connection
    from django_tenants.utils import tenant_context
    from tqdm import tqdm

    from reports.imports import import_reports
    from tenants.models import Tenant
    from tenants.services import tenant_create

    workdir = Path(tempfile.mkdtemp(prefix="civicpulse-bench-import-"))
    path = workdir / "chicago311.csv"
    generate(path, args.rows)
    figure("rows", args.rows)
    figure("file_mb", round(path.stat().st_size / 1e6, 1))

    # Raw COPY of the same file into a plain table: the ceiling to compare with.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_ceiling (" + ", ".join(f"c{i} text" for i in range(len(HEADER))) + ")")
        started = time.perf_counter()
        with path.open("rb") as f, cursor.cursor.copy("COPY copy_ceiling FROM STDIN (FORMAT csv, HEADER true)") as copy:
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        copy_s = time.perf_counter() - started
        cursor.execute("DROP TABLE copy_ceiling")

    if existing := Tenant.objects.filter(schema_name=SLUG).first():
        _drop(existing)
    tenant = tenant_create(slug=SLUG, name="Import benchmark", kind="city", timezone="America/Chicago")
    with tenant_context(tenant), tqdm(total=args.rows, unit=" rows", file=sys.stderr, disable=None) as bar:
        started = time.perf_counter()
        result = import_reports(path=path, fmt="chicago311", progress=bar.update)
        import_s = time.perf_counter() - started
    figure("import_s", round(import_s, 1))
    figure("loaded", result.batch.rows_loaded)
    figure("rows_per_s", round(args.rows / import_s))
    figure("copy_rows_per_s", round(args.rows / copy_s))
    figure("share_of_copy", round(copy_s / import_s, 3))
    if not args.keep:
        _drop(tenant)
        path.unlink()
        workdir.rmdir()


def _drop(tenant: object) -> None:
    from django.db import connection
    from psycopg import sql

    from tenants.models import Tenant

    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(tenant.schema_name)).as_string(cursor.connection))
    tenant.domains.all().delete()
    Tenant.objects.filter(pk=tenant.pk).delete()


if __name__ == "__main__":
    main()
