-- aging_open: an area (or no area) with at least `count` open issues older than `days`
-- days. Its count is those issues.
--
-- One rule's query (analytics/rules/loader.py loads it; docs/scores.md explains the rules).
-- It reads its thresholds from its row of analytics_rule, finds nothing while the rule is
-- inactive, and yields rule_id, subject, area_id, category_id, issue_id, support, detail.
-- The status lists in braces are filled in from issues.models (issues/statuses.py).
WITH r AS (
    SELECT id, GREATEST((params->>'count')::int, 1) AS n, (params->>'days')::float8 AS days
    FROM analytics_rule WHERE code = 'aging_open' AND active
)
SELECT r.id AS rule_id, 'area:' || COALESCE(i.area_id::text, 'none') AS subject, i.area_id,
       NULL::bigint AS category_id, NULL::bigint AS issue_id, count(*) AS support,
       jsonb_build_object('oldest_days', round((EXTRACT(EPOCH FROM now() - min(i.created_at)) / 86400)::numeric, 1))
           AS detail
FROM issues_issue i CROSS JOIN r
WHERE i.status IN {open_statuses} AND i.created_at < now() - r.days * interval '1 day'
GROUP BY r.id, r.n, i.area_id
HAVING count(*) >= r.n
