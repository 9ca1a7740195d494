"""The SQL of scores: one statement computes the figures of the tenant, of every area
and of every category over a window, scores them and stores them as one run's snapshots.

- reported: issues created in the window; open: issues open at its end (created before
  it and not resolved by then, which also holds for a window in the past); backlog age:
  median and oldest age of those open issues.
- resolved, met, compliance: the SLA metrics (analytics/sla/sql.py) of issues resolved in
  the window; met = resolved within the target of the policy version they were measured
  with. Median and 90th-percentile resolution time are wall-clock hours, what residents
  wait.
- speed = clamp(1 − m / 2, 0, 1), m being the median share of the resolution target
  used (pauses excluded, on the policy's clock): 1 for instant fixes, 0.5 when the
  median fix takes its whole target, 0 from twice the target. Measured against each
  issue's own target, so a district full of slow-to-fix categories is not punished.
- score = 100 × (w × compliance + (1 − w) × speed), w the tenant's compliance weight;
  no score below the tenant's minimum of resolved issues.
- rank: among the run's scored areas (and, apart, categories), best first; ties share.
"""

from issues.statuses import OPEN_STATUSES_SQL

SNAPSHOT_SQL = f"""
WITH iss AS (
    SELECT i.area_id, i.category_id, i.created_at >= %(start)s AS reported,
           -- Open at the window's end. An issue resolved at an unknown time (imported
           -- history without a closing date) is not open: it is left out of the backlog.
           (i.resolved_at > %(end)s OR (i.resolved_at IS NULL AND i.status IN {OPEN_STATUSES_SQL}))
               AS open,
           EXTRACT(EPOCH FROM %(end)s - i.created_at)::float8 / 3600 AS age_h
    FROM issues_issue i
    WHERE i.created_at < %(end)s
      AND (i.created_at >= %(start)s OR i.resolved_at > %(end)s
           OR (i.resolved_at IS NULL AND i.status IN {OPEN_STATUSES_SQL}))
),
counts AS (
    SELECT CASE WHEN GROUPING(area_id) = 0 THEN 'area' WHEN GROUPING(category_id) = 0 THEN 'category'
                ELSE 'tenant' END AS scope,
           area_id, category_id,
           count(*) FILTER (WHERE reported) AS reported,
           count(*) FILTER (WHERE open) AS open_count,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY age_h) FILTER (WHERE open) AS backlog_median,
           max(age_h) FILTER (WHERE open) AS backlog_max
    FROM iss GROUP BY GROUPING SETS ((), (area_id), (category_id))
),
res AS (
    SELECT i.area_id, i.category_id, m.resolve_met,
           EXTRACT(EPOCH FROM m.resolved_at - m.created_at)::float8 / 3600 AS hours,
           m.resolve_seconds / NULLIF(m.resolve_target_seconds, 0) AS used
    FROM analytics_slametric m JOIN issues_issue i ON i.id = m.issue_id
    WHERE m.resolved_at >= %(start)s AND m.resolved_at < %(end)s
),
resolved AS (
    SELECT CASE WHEN GROUPING(area_id) = 0 THEN 'area' WHEN GROUPING(category_id) = 0 THEN 'category'
                ELSE 'tenant' END AS scope,
           area_id, category_id, count(*) AS resolved, count(*) FILTER (WHERE resolve_met) AS met,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_h,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_h,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY used) AS median_used
    FROM res GROUP BY GROUPING SETS ((), (area_id), (category_id))
),
joined AS (
    SELECT COALESCE(c.scope, r.scope) AS scope, COALESCE(c.area_id, r.area_id) AS area_id,
           COALESCE(c.category_id, r.category_id) AS category_id,
           COALESCE(c.reported, 0) AS reported, COALESCE(c.open_count, 0) AS open_count,
           c.backlog_median, c.backlog_max,
           COALESCE(r.resolved, 0) AS resolved, COALESCE(r.met, 0) AS met, r.median_h, r.p90_h,
           r.met::float8 / NULLIF(r.resolved, 0) AS compliance,
           CASE WHEN r.median_used IS NOT NULL THEN GREATEST(0, LEAST(1, 1 - r.median_used / 2)) END AS speed
    FROM counts c
    FULL JOIN resolved r ON r.scope = c.scope AND r.area_id IS NOT DISTINCT FROM c.area_id
                         AND r.category_id IS NOT DISTINCT FROM c.category_id
),
scored AS (
    SELECT j.*,
           CASE WHEN j.resolved >= %(min_resolved)s AND j.resolved > 0
                THEN round((100 * (%(weight)s * j.compliance + (1 - %(weight)s) * COALESCE(j.speed, 0)))::numeric, 2)::float8
           END AS score
    FROM joined j
    -- Issues with no area (or category) count in the tenant's figures only.
    WHERE j.scope = 'tenant' OR (j.scope = 'area' AND j.area_id IS NOT NULL)
       OR (j.scope = 'category' AND j.category_id IS NOT NULL)
)
INSERT INTO analytics_scoresnapshot (run_id, computed_at, scope, area_id, category_id, reported, resolved, met,
    open_count, compliance, median_hours, p90_hours, backlog_median_hours, backlog_max_hours, speed, score, rank)
SELECT %(run)s, %(end)s, scope, area_id, category_id, reported, resolved, met, open_count, compliance, median_h, p90_h,
       backlog_median, backlog_max, speed, score,
       CASE WHEN scope <> 'tenant' AND score IS NOT NULL
            THEN rank() OVER (PARTITION BY scope, score IS NULL ORDER BY score DESC) END
FROM scored
"""
