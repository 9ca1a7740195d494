"""Grouping at scale: fill a throwaway tenant with N issues over a city (set-based
INSERT ... SELECT, in chunks), ANALYZE, then time the candidate query and the whole
grouping step at random points.

    .venv/bin/python bench/dedup.py [--issues 1000000] [--points 300] [--keep]

The issues spread over a 20 by 20 km city, denser towards its centre, created over a
year; most older ones are closed, about half of the last month's are open, as in a
busy city. Half the points are random places in the city, half sit on a recently active
open issue with its words reworded (so the grouping step both joins and opens issues).
The first 20 points warm the caches and are not counted.

Prints `issues`, `open_issues`, `fill_s`, `candidates_p50_ms`, `candidates_p95_ms`
(`issues.candidate_selectors.issue_candidates`, one call), `candidates_mean_rows`,
`grouping_p50_ms`, `grouping_p95_ms` (`issues.services.grouping.issue_group_report` in a
transaction rolled back after each call: thresholds, neighbourhood lock, candidates,
scoring, then linking or opening an issue) and `joined_share`. The EXPLAIN (ANALYZE,
BUFFERS) plan of one candidate query goes to stderr with the progress bars. The tenant
(`bench-dedup`) is dropped unless --keep; with --keep a second run reuses its issues.
"""

import argparse
import random
import statistics
import sys
import time

from _setup import django_setup, drop_tenant, figure, kept_or_new_tenant, percentile

SLUG = "bench-dedup"
CENTRE = (39.80, -89.64)
HALF_SIDE_M = 10_000
CHUNK = 100_000
WARM_UP = 20

# Words the fill draws issue texts from: what is wrong, where.
THINGS = [
    "Pothole",
    "Deep pothole",
    "Street light",
    "Streetlight",
    "Graffiti",
    "Overflowing trash bin",
    "Fallen tree branch",
    "Leaking fire hydrant",
    "Traffic signal",
    "Abandoned car",
    "Broken sidewalk",
    "Loud music",
    "Water main",
    "Missed garbage collection",
    "Cracked curb",
    "Dead tree",
]
WRONGS = [
    "is getting deeper",
    "is out",
    "on the wall",
    "not collected for days",
    "blocking the path",
    "flooding the street",
    "stuck on red",
    "not moved for weeks",
    "trip hazard",
    "every night",
    "flickering",
    "needs repair",
    "damaged my tire",
    "dark for a week",
    "spilling onto the road",
]
STREETS = [
    "Main St",
    "Oak Ave",
    "Elm St",
    "Maple Ave",
    "2nd St",
    "5th St",
    "Washington Ave",
    "Lincoln Blvd",
    "Park Rd",
    "Cedar Ln",
    "Jefferson St",
    "Madison Ave",
    "Spring St",
    "Grand Ave",
    "River Rd",
    "Hill St",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup()

    from django.db import connection
    from django_tenants.utils import tenant_context

    tenant, existing = kept_or_new_tenant(SLUG, "Grouping benchmark")
    rng = random.Random(args.seed)
    with tenant_context(tenant):
        if existing < args.issues:
            started = time.perf_counter()
            _fill(existing, args.issues, args.seed)
            figure("fill_s", round(time.perf_counter() - started, 1))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(*) FILTER (WHERE status IN ('open', 'acknowledged', 'in_progress'))"
                " FROM issues_issue"
            )
            total, open_total = cursor.fetchone()
        figure("issues", total)
        figure("open_issues", open_total)
        points = _points(rng, args.points + WARM_UP)
        _measure(points)
    if not args.keep:
        drop_tenant(SLUG)


def _fill(start: int, total: int, seed: int) -> None:
    """Insert issues start+1..total in chunks, each one set-based statement."""
    from django.db import connection
    from tqdm import tqdm

    lat0, lon0 = CENTRE
    with (
        connection.cursor() as cursor,
        tqdm(total=total - start, unit=" issues", desc="filling", file=sys.stderr, disable=None) as bar,
    ):
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
        for low in range(start, total, CHUNK):
            high = min(low + CHUNK, total)
            cursor.execute(
                """
                INSERT INTO issues_issue (title, summary, text, category_id, department_id, severity, status,
                    latitude, longitude, address_key, report_count, created_at, last_report_at, updated_at)
                SELECT left(x.text, 200), '', x.text, c.id, c.department_id, c.default_severity, x.status,
                       %(lat0)s + x.dy / 111320.0, %(lon0)s + x.dx / (111320.0 * cos(radians(%(lat0)s))), '',
                       x.reports, x.created, LEAST(x.created + x.active, now()), now()
                FROM (
                    SELECT g,
                           (%(things)s::text[])[1 + floor(random() * %(n_things)s)::int] || ' '
                             || (%(wrongs)s::text[])[1 + floor(random() * %(n_wrongs)s)::int] || ' near '
                             || (2 * (1 + floor(random() * 400)::int))::text || ' '
                             || (%(streets)s::text[])[1 + floor(random() * %(n_streets)s)::int] AS text,
                           -- Half spread evenly over the city, half around its centre (about 3 km).
                           CASE WHEN g %% 2 = 0 THEN (random() * 2 - 1) * %(half)s
                                ELSE LEAST(GREATEST(3000 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()),
                                                    -%(half)s), %(half)s) END AS dy,
                           CASE WHEN g %% 2 = 0 THEN (random() * 2 - 1) * %(half)s
                                ELSE LEAST(GREATEST(3000 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()),
                                                    -%(half)s), %(half)s) END AS dx,
                           now() - random() * interval '365 days' AS created,
                           random() * interval '3 days' AS active,
                           1 + floor(-ln(1 - random()) * 0.7)::int AS reports,
                           random() AS r
                    FROM generate_series(%(low)s + 1, %(high)s) g
                ) y
                CROSS JOIN LATERAL (
                    SELECT y.text, y.dy, y.dx, y.created, y.active, y.reports,
                           -- Older problems are mostly closed; about half of the last month's are open.
                           CASE WHEN y.created > now() - interval '30 days' AND y.r < 0.5
                                     THEN (ARRAY['open', 'open', 'acknowledged', 'in_progress'])[1 + floor(y.r * 8)::int]
                                WHEN y.created <= now() - interval '30 days' AND y.r < 0.05 THEN 'open'
                                WHEN y.r < 0.8 THEN 'closed' ELSE 'resolved' END AS status
                ) x
                JOIN (SELECT id, department_id, default_severity, row_number() OVER (ORDER BY id) - 1 AS n
                      FROM issues_category) c
                  ON c.n = y.g %% (SELECT count(*) FROM issues_category)
                """,
                {
                    "lat0": lat0,
                    "lon0": lon0,
                    "half": HALF_SIDE_M,
                    "low": low,
                    "high": high,
                    "things": THINGS,
                    "n_things": len(THINGS),
                    "wrongs": WRONGS,
                    "n_wrongs": len(WRONGS),
                    "streets": STREETS,
                    "n_streets": len(STREETS),
                },
            )
            bar.update(high - low)
        bar.set_description("analyzing")
        cursor.execute("ANALYZE issues_issue")


def _points(rng: random.Random, count: int) -> list[dict]:
    """Half random places in the city, half on recently active open issues, reworded."""
    from math import cos, radians

    from django.db import connection

    lat0, lon0 = CENTRE
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT latitude, longitude, text, category_id FROM issues_issue"
            " WHERE status = 'open' AND last_report_at > now() - interval '7 days' ORDER BY random() LIMIT %s",
            [count // 2],
        )
        near = cursor.fetchall()
    points = []
    for n in range(count):
        if n % 2 and near:
            lat, lon, text, category_id = near.pop()
            words = text.split()
            text = " ".join(["Still", *words[:2], rng.choice(WRONGS), *words[-3:]])
            lat += rng.uniform(-15, 15) / 111_320
        else:
            lat = lat0 + rng.uniform(-HALF_SIDE_M, HALF_SIDE_M) / 111_320
            lon = lon0 + rng.uniform(-HALF_SIDE_M, HALF_SIDE_M) / (111_320 * cos(radians(lat0)))
            text = f"{rng.choice(THINGS)} {rng.choice(WRONGS)} near {rng.randrange(2, 800, 2)} {rng.choice(STREETS)}"
            category_id = None
        points.append({"lat": lat, "lon": lon, "text": text, "category_id": category_id})
    return points


def _measure(points: list[dict]) -> None:
    from django.db import transaction
    from django.utils import timezone
    from tqdm import tqdm

    from issues.candidate_selectors import issue_candidates
    from issues.models import Category
    from issues.selectors import category_compatible_ids, grouping_thresholds
    from issues.services.grouping import issue_group_report

    categories = {c.pk: c for c in Category.objects.all()}
    fallback = list(categories.values())
    now = timezone.now()
    candidate_ms, grouping_ms, rows, joined = [], [], [], 0
    for n, point in enumerate(tqdm(points, desc="measuring", file=sys.stderr, disable=None)):
        category = categories.get(point["category_id"]) or fallback[n % len(fallback)]
        thresholds = grouping_thresholds(category)
        query = {
            "latitude": point["lat"],
            "longitude": point["lon"],
            "address_key": "",
            "at": now,
            "text": point["text"],
            "category_ids": category_compatible_ids(category),
            "radius_m": thresholds.radius_m,
            "window_hours": thresholds.window_hours,
        }
        started = time.perf_counter()
        found = issue_candidates(**query)
        candidate_ms.append((time.perf_counter() - started) * 1000)
        rows.append(len(found))
        started = time.perf_counter()
        with transaction.atomic():
            result = issue_group_report(
                text=point["text"],
                summary="",
                category=category,
                severity="medium",
                latitude=point["lat"],
                longitude=point["lon"],
                address_key="",
                at=now,
                report_ref=f"bench-{n}",
                actor_label="bench",
            )
            transaction.set_rollback(True)
        grouping_ms.append((time.perf_counter() - started) * 1000)
        joined += not result.created
        if n == WARM_UP + 1:  # a point on an open issue, so the plan shows a row found
            _explain(query)
    candidate_ms, grouping_ms = candidate_ms[WARM_UP:], grouping_ms[WARM_UP:]
    figure("points", len(candidate_ms))
    figure("candidates_p50_ms", round(statistics.median(candidate_ms), 2))
    figure("candidates_p95_ms", round(percentile(candidate_ms, 0.95), 2))
    figure("candidates_mean_rows", round(statistics.mean(rows[WARM_UP:]), 2))
    figure("grouping_p50_ms", round(statistics.median(grouping_ms), 2))
    figure("grouping_p95_ms", round(percentile(grouping_ms, 0.95), 2))
    figure("joined_share", round(joined / len(points), 3))


def _explain(query: dict) -> None:
    """The plan of one candidate query, on stderr."""
    from django.db import connection

    from issues import candidate_selectors

    statement, params = candidate_selectors.candidate_query(**query)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        print("\n".join(row[0] for row in cursor.fetchall()), file=sys.stderr)


if __name__ == "__main__":
    main()
