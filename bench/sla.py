"""The SLA engine at scale: fill a throwaway tenant with N issues over two years (a fifth
of them open, the rest acknowledged and resolved at realistic delays, some paused),
then time the metrics of every resolved issue and one full evaluation pass.

    .venv/bin/python bench/sla.py [--issues 1000000] [--keep]

Prints `issues`, `open`, `pauses`, `fill_s`, `metrics_s` (recompute_sla --all: every
resolved issue measured), `metrics`, `evaluate_s` (one beat pass: every open issue's
deadlines, state and threshold crossings), `evaluated`, `crossings`, and `evaluate_again_s`/`crossings_again` for the pass after
(what beat does every 15 minutes once the backlog is recorded). The tenant
(`bench-sla`, a city in America/Chicago) is dropped unless --keep.
"""

import argparse
import sys
import time

from _setup import django_setup, drop_tenant, figure, kept_or_new_tenant

SLUG = "bench-sla"
CHUNK = 100_000

# One statement per chunk of ids. Categories and severities in turn; created over the
# last two years; every fifth issue open (open, acknowledged, in progress in turn), the
# others acknowledged within 0-30 h and resolved 1 h to 20 days later.
FILL = """
INSERT INTO issues_issue (title, summary, text, category_id, department_id, severity, status, latitude, longitude,
    address_key, report_count, created_at, last_report_at, acknowledged_at, resolved_at, closed_at, updated_at)
SELECT 'Problem ' || g, '', 'problem ' || g, c.id, c.department_id,
       (ARRAY['low','medium','high','critical'])[1 + g %% 4], x.status,
       39.7 + (g %% 1000) / 5000.0, -89.7 + (g / 1000 %% 1000) / 5000.0, '', 1,
       x.created_at, x.created_at, x.ack_at, x.resolved_at,
       CASE WHEN x.status = 'closed' THEN x.resolved_at END,
       COALESCE(x.resolved_at, x.ack_at, x.created_at)
FROM generate_series(%(lo)s, %(hi)s) g
JOIN (SELECT id, department_id, row_number() OVER (ORDER BY id) - 1 AS n FROM issues_category) c
  ON c.n = g %% (SELECT count(*) FROM issues_category)
CROSS JOIN LATERAL (
    SELECT s.status, s.created_at,
           CASE WHEN s.status IN ('acknowledged', 'in_progress', 'resolved', 'closed')
                THEN s.created_at + s.ack_delay END AS ack_at,
           CASE WHEN s.status IN ('resolved', 'closed') THEN s.created_at + s.ack_delay + s.fix_delay END AS resolved_at
    FROM (SELECT CASE WHEN g %% 5 = 0 THEN (ARRAY['open','acknowledged','in_progress'])[1 + g / 5 %% 3]
                      WHEN g %% 5 = 1 THEN 'closed' ELSE 'resolved' END AS status,
                 now() - interval '730 days' * (1 - g::float8 / %(n)s) - interval '1 hour' * random() AS created_at,
                 interval '1 hour' * (random() * 30) AS ack_delay,
                 interval '1 hour' * (1 + random() * random() * 480) AS fix_delay) s
) x
"""
# One issue in ten is paused once, half of them open ones (waiting on a contractor,
# parts, the weather or the resident), starting an hour after creation for up to two
# days; one open issue in seven of those is still paused.
PAUSES = """
INSERT INTO analytics_issuepause (issue_id, reason_id, started_at, ended_at, note)
SELECT i.id, r.id, i.created_at + interval '1 hour',
       CASE WHEN i.resolved_at IS NULL AND i.id %% 7 = 0 THEN NULL
            ELSE LEAST(i.created_at + interval '1 hour' + interval '1 hour' * (i.id %% 48),
                       COALESCE(i.resolved_at, now())) END,
       ''
FROM issues_issue i
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM analytics_pausereason) r ON r.n = i.id %% 4
WHERE i.id %% 20 IN (3, 10) AND i.created_at + interval '1 hour' < COALESCE(i.resolved_at, now())
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup()

    from django.db import connection
    from django_tenants.utils import tenant_context
    from tqdm import tqdm

    from analytics.sla.services.evaluation import sla_evaluate, sla_metrics_recompute

    tenant, existing = kept_or_new_tenant(SLUG, "SLA benchmark")
    with tenant_context(tenant):
        if not existing:
            started = time.perf_counter()
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
                cursor.execute("ANALYZE issues_issue")
                cursor.execute("ANALYZE analytics_issuepause")
            figure("fill_s", round(time.perf_counter() - started, 1))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(*) FILTER (WHERE status IN ('open', 'acknowledged', 'in_progress')), "
                "(SELECT count(*) FROM analytics_issuepause) FROM issues_issue"
            )
            issues, open_, pauses = cursor.fetchone()
        figure("issues", issues)
        figure("open", open_)
        figure("pauses", pauses)

        started = time.perf_counter()
        with tqdm(desc="metrics", unit=" ids", file=sys.stderr, disable=None) as bar:
            metrics = sla_metrics_recompute(progress=bar.update, total=lambda n: setattr(bar, "total", n))
        figure("metrics_s", round(time.perf_counter() - started, 1))
        figure("metrics", metrics)

        print("evaluating…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        result = sla_evaluate()
        figure("evaluate_s", round(time.perf_counter() - started, 1))
        figure("evaluated", result.evaluated)
        figure("crossings", result.crossings)
        # The next pass, as beat runs it every 15 minutes: few new crossings.
        started = time.perf_counter()
        again = sla_evaluate()
        figure("evaluate_again_s", round(time.perf_counter() - started, 1))
        figure("crossings_again", again.crossings)
    if not args.keep:
        drop_tenant(SLUG)


if __name__ == "__main__":
    main()
