"""Scores at scale: fill a throwaway tenant with N issues over two years (the SLA
benchmark's fill: a fifth open, the rest resolved at realistic delays, some paused),
spread over a 4 × 5 grid of areas, measure every resolved issue's SLA metric, then time
one hourly score computation, one rules evaluation and the public accountability page.

    .venv/bin/python bench/scores.py [--issues 1000000] [--renders 60] [--keep]

Prints `issues`, `areas`, `fill_s`, `metrics_s`, `scores_s` (one hourly computation:
tenant, every area and every category over the last 30 days, stored as snapshots and
copied to the leaderboard), `snapshots`, `rules_s` (every rule's view evaluated and
reconciled into flags), `flags`, `public_p50_ms`/`public_p95_ms` (the accountability
page, rendered `--renders` times through Django's test client after 5 warm-ups) and
`dashboard_p50_ms`/`dashboard_p95_ms` (the staff dashboard, unfiltered, 30 days, 10
renders). The tenant (`bench-scores`, a city in America/Chicago) is dropped unless --keep.
"""

import argparse
import statistics
import sys
import time

from _setup import django_setup, drop_tenant, figure, kept_or_new_tenant, percentile

SLUG = "bench-scores"
CHUNK = 100_000
ROWS, COLS = 4, 5
# The fill's points lie in latitude 39.7–39.9 and longitude −89.7 to −89.5.
LAT0, LON0, SPAN = 39.7, -89.7, 0.2

# Each issue lands in the grid cell of its point: one statement.
ASSIGN_AREAS = """
UPDATE issues_issue i SET area_id = a.id
FROM issues_area a
WHERE a.code = 'cell_' || LEAST(floor((i.latitude - %(lat0)s) / %(dlat)s)::int, %(rows)s - 1)
               || '_' || LEAST(floor((i.longitude - %(lon0)s) / %(dlon)s)::int, %(cols)s - 1)
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--renders", type=int, default=60)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup()

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import tenant_context
    from sla import FILL, PAUSES
    from tqdm import tqdm

    from analytics.rules.models import Flag
    from analytics.rules.services import rules_evaluate
    from analytics.scores.models import ScoreSnapshot
    from analytics.scores.services import scores_compute
    from analytics.sla.services.evaluation import sla_metrics_recompute
    from issues.services.taxonomy import area_upsert

    tenant, existing = kept_or_new_tenant(SLUG, "Scores benchmark")
    with tenant_context(tenant):
        if not existing:
            started = time.perf_counter()
            dlat, dlon = SPAN / ROWS, SPAN / COLS
            for r in range(ROWS):
                for c in range(COLS):
                    lat, lon = LAT0 + r * dlat, LON0 + c * dlon
                    ring = [
                        [lon, lat],
                        [lon + dlon, lat],
                        [lon + dlon, lat + dlat],
                        [lon, lat + dlat],
                        [lon, lat],
                    ]
                    area_upsert(
                        code=f"cell_{r}_{c}",
                        name=f"District {r * COLS + c + 1}",
                        boundary={"type": "Polygon", "coordinates": [ring]},
                    )
            with (
                connection.cursor() as cursor,
                tqdm(total=args.issues, desc="filling", unit=" issues", file=sys.stderr, disable=None) as bar,
            ):
                cursor.execute("SELECT setseed(0.42)")
                for lo in range(1, args.issues + 1, CHUNK):
                    hi = min(lo + CHUNK - 1, args.issues)
                    cursor.execute(FILL, {"lo": lo, "hi": hi, "n": args.issues})
                    bar.update(hi - lo + 1)
                cursor.execute(PAUSES, {})
                print("assigning areas…", file=sys.stderr, flush=True)
                cursor.execute(
                    ASSIGN_AREAS,
                    {"lat0": LAT0, "lon0": LON0, "dlat": dlat, "dlon": dlon, "rows": ROWS, "cols": COLS},
                )
                cursor.execute("VACUUM ANALYZE issues_issue")
            figure("fill_s", round(time.perf_counter() - started, 1))
            started = time.perf_counter()
            with tqdm(desc="metrics", unit=" ids", file=sys.stderr, disable=None) as bar:
                sla_metrics_recompute(progress=bar.update, total=lambda n: setattr(bar, "total", n))
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE analytics_slametric")
            figure("metrics_s", round(time.perf_counter() - started, 1))
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), count(DISTINCT area_id) FROM issues_issue")
            issues, areas = cursor.fetchone()
        figure("issues", issues)
        figure("areas", areas)

        print("computing scores…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        run = scores_compute()
        figure("scores_s", round(time.perf_counter() - started, 2))
        figure("snapshots", ScoreSnapshot.objects.filter(run=run).count())
        print("evaluating rules…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rules_evaluate()
        figure("rules_s", round(time.perf_counter() - started, 2))
        figure("flags", Flag.objects.filter(cleared_at=None).count())
        users = get_user_model().objects
        staff = users.filter(username="bench-staff").first() or users.create_superuser(
            "bench-staff", "b@example.org", None
        )

    host = tenant.domains.get(is_primary=True).domain
    client = Client(HTTP_HOST=host)
    timings = []
    for n in tqdm(range(args.renders + 5), desc="public page", file=sys.stderr, disable=None):
        started = time.perf_counter()
        response = client.get("/accountability/")
        if n >= 5:
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    figure("public_p50_ms", round(statistics.median(timings), 1))
    figure("public_p95_ms", round(percentile(timings, 0.95), 1))

    client.force_login(staff)
    timings = []
    for n in tqdm(range(11), desc="dashboard", file=sys.stderr, disable=None):
        started = time.perf_counter()
        response = client.get("/admin/analytics/scorerun/dashboard/")
        if n >= 1:
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    figure("dashboard_p50_ms", round(statistics.median(timings), 1))
    figure("dashboard_p95_ms", round(percentile(timings, 0.95), 1))
    if not args.keep:
        drop_tenant(SLUG)


if __name__ == "__main__":
    main()
