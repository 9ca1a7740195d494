"""The staff map's markers endpoint SQL (issues.selectors.open_issue_markers) over a
million open issues: a throwaway schema holding only the columns and the GiST index the
queries use (the same partial index as migration issues 0013), filled with generate_series,
then each viewport timed. Prints `name: value` lines; the schema is dropped afterwards.

    .venv/bin/python bench/map_markers.py [--issues 1000000]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicpulse.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from issues.selectors import open_issue_markers  # noqa: E402

SCHEMA = "bench_map_markers"
# A city about 20 km across, and viewports from the whole city down to a street.
CITY = (-89.75, 39.70, -89.55, 39.90)
VIEWS = {
    "city": CITY,
    "district": (-89.66, 39.79, -89.64, 39.81),
    "street": (-89.6505, 39.7995, -89.6495, 39.8005),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issues", type=int, default=1_000_000)
    args = parser.parse_args()
    west, south, east, north = CITY
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
        cursor.execute(
            f"CREATE TABLE {SCHEMA}.issues_category (id int PRIMARY KEY, name text);"
            f"INSERT INTO {SCHEMA}.issues_category SELECT g, 'Category ' || g FROM generate_series(1, 20) g;"
            f"CREATE TABLE {SCHEMA}.issues_issue (id bigserial PRIMARY KEY, latitude float8, longitude float8,"
            " status varchar(20), area_id int, category_id int)"
        )
        started = time.perf_counter()
        cursor.execute(
            f"INSERT INTO {SCHEMA}.issues_issue (latitude, longitude, status, area_id, category_id)"
            " SELECT %s + random() * %s, %s + random() * %s,"
            " (ARRAY['open', 'acknowledged', 'in_progress', 'resolved'])[1 + g %% 4], 1 + g %% 8, 1 + g %% 20"
            " FROM generate_series(1, %s) g",
            [south, north - south, west, east - west, args.issues],
        )
        cursor.execute(
            f"CREATE INDEX ON {SCHEMA}.issues_issue USING gist (point(longitude, latitude))"
            " WHERE status IN ('open', 'acknowledged', 'in_progress') AND latitude IS NOT NULL;"
            f"ANALYZE {SCHEMA}.issues_issue"
        )
        print(f"issues: {args.issues}")
        print(f"load_s: {time.perf_counter() - started:.1f}")
    connection.set_schema(SCHEMA)  # django-tenants: the search path of every later cursor
    try:
        for name, bbox in VIEWS.items():
            times = []
            for _ in range(5):
                started = time.perf_counter()
                answer = open_issue_markers(bbox=bbox, limit=settings.MAP_MARKERS_LIMIT)
                times.append(time.perf_counter() - started)
            print(f"{name}_markers: {len(answer['markers'])}")
            print(f"{name}_cells: {len(answer['cells'])}")
            print(f"{name}_median_ms: {statistics.median(times) * 1000:.1f}")
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


if __name__ == "__main__":
    main()
