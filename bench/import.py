"""Bulk import speed: generate a Chicago-layout 311 file, import it into a fresh tenant,
and compare with the raw COPY rate of the same file into an empty table.

    .venv/bin/python bench/import.py [--rows 1000000] [--keep]

Prints `rows`, `file_mb`, `import_s`, `rows_per_s` (end to end: read, stage, validate,
load issues and reports), `copy_rows_per_s` (COPY of the same CSV into an empty table
of text columns, measured in the same run; `copy_temp_rows_per_s` into a temporary one,
which skips the WAL), `share_of_copy`, and the seconds of each step
(`reading_s`, `checking_s`, `standardising_s`, `grouping_s`, `writing_s`, `indexing_s`).

Then `floor_s` and `floor_rows_per_s`: what writing the imported rows alone costs on this
machine, whatever the import does before it: its issues and reports copied into empty
tables of the same shape, then those tables' indexes and foreign keys built
(`floor_writing_s`, `floor_indexing_s`). Reading the file and everything between are
left out, and an index built once costs less than one kept up row by row, so an import
of this file into these tables is not expected to beat it. The tenant (`bench-import`)
and the file are removed unless --keep.
"""

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from _setup import django_setup, drop_tenant, figure

SLUG = "bench-import"


def write_floor() -> dict[str, float]:
    """Seconds to write the current tenant's issues and reports into empty copies of
    their tables in a schema of their own, then build all those tables' indexes
    (primary keys included; the import keeps the issues' one while it writes) and
    foreign keys, with the import's memory settings. Rolled back."""
    from django.db import connection, transaction

    from reports.imports.tables import BULK_TABLES

    tables = tuple(reversed(BULK_TABLES))  # the referenced one (issues) first
    seconds = {"writing": 0.0, "indexing": 0.0}
    schema = f"bench_floor_{os.getpid()}"  # two runs at once do not meet
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB'; SET LOCAL jit = off; "
            f"CREATE SCHEMA {schema}"
        )
        indexes: list[str] = []
        keys: list[tuple[str, str, str]] = []
        for table in tables:
            cursor.execute(
                f"CREATE TABLE {schema}.{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
            started = time.perf_counter()
            cursor.execute(f"INSERT INTO {schema}.{table} SELECT * FROM {table}")
            seconds["writing"] += time.perf_counter() - started
            cursor.execute(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass", [table]
            )
            indexes += [
                re.sub(r" ON \S+ USING ", f" ON {schema}.{table} USING ", d, count=1)
                for (d,) in cursor.fetchall()
            ]
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
                [table],
            )
            keys += [(table, name, definition) for name, definition in cursor.fetchall()]
        started = time.perf_counter()
        for definition in indexes:
            cursor.execute(definition)
        for table, name, definition in keys:
            # A key between the two tables points at the copy.
            for other in tables:
                definition = re.sub(
                    rf"REFERENCES (\S+\.)?{other}\(", f"REFERENCES {schema}.{other}(", definition
                )
            cursor.execute(
                f'ALTER TABLE {schema}.{table} ADD CONSTRAINT "{name}" {definition} NOT VALID; '
                f'ALTER TABLE {schema}.{table} VALIDATE CONSTRAINT "{name}"'
            )
        seconds["indexing"] = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup()

    from django.db import connection
    from django_tenants.utils import tenant_context
    from tqdm import tqdm

    from civicpulse.demo.history import HEADER, generate_chicago311
    from reports.imports.load import import_reports
    from tenants.services import tenant_create

    workdir = Path(tempfile.mkdtemp(prefix="civicpulse-bench-import-"))
    path = workdir / "chicago311.csv"
    generate_chicago311(path, args.rows)
    figure("rows", args.rows)
    figure("file_mb", round(path.stat().st_size / 1e6, 1))

    # Raw COPY of the same file into an empty table of text columns: the ceiling to
    # compare with. A regular table, written to the WAL like the tables the import
    # fills; a temporary one (no WAL) is printed beside it.
    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    copy_s = {}
    with connection.cursor() as cursor:
        for kind, create in (("regular", "CREATE TABLE"), ("temp", "CREATE TEMP TABLE")):
            cursor.execute(
                f"DROP TABLE IF EXISTS bench_copy_ceiling; {create} bench_copy_ceiling ({columns})"
            )
            started = time.perf_counter()
            with (
                path.open("rb") as f,
                cursor.cursor.copy("COPY bench_copy_ceiling FROM STDIN (FORMAT csv, HEADER true)") as copy,
            ):
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            copy_s[kind] = time.perf_counter() - started
            cursor.execute("DROP TABLE bench_copy_ceiling")

    drop_tenant(SLUG)
    tenant = tenant_create(slug=SLUG, name="Import benchmark", kind="city", timezone="America/Chicago")
    phases: dict[str, float] = {}
    with tenant_context(tenant), tqdm(total=args.rows, unit=" rows", file=sys.stderr, disable=None) as bar:
        started = mark = time.perf_counter()
        current = "setup"

        def phase(name: str) -> None:
            nonlocal mark, current
            now = time.perf_counter()
            phases[current], mark, current = now - mark, now, name
            bar.set_description(name)

        result = import_reports(path=path, fmt="chicago311", progress=bar.update, phase=phase)
        import_s = time.perf_counter() - started
        phases[current] = time.perf_counter() - mark
    figure("import_s", round(import_s, 1))
    figure("loaded", result.batch.rows_loaded)
    figure("rows_per_s", round(args.rows / import_s))
    figure("copy_rows_per_s", round(args.rows / copy_s["regular"]))
    figure("copy_temp_rows_per_s", round(args.rows / copy_s["temp"]))
    figure("share_of_copy", round(copy_s["regular"] / import_s, 3))
    for name, seconds in phases.items():
        figure(f"{name}_s", round(seconds, 1))
    with tenant_context(tenant):
        floor = write_floor()
    figure("floor_s", round(sum(floor.values()), 1))
    figure("floor_rows_per_s", round(args.rows / sum(floor.values())))  # per row of the file, as rows_per_s
    for name, seconds in floor.items():
        figure(f"floor_{name}_s", round(seconds, 1))
    if not args.keep:
        drop_tenant(SLUG)
        path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
