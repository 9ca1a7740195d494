-- reopened: an issue reopened (finished -> an open status) at least `count` times in the
-- last `days` days. Its count is the reopenings.
--
-- One rule's query (analytics/rules/loader.py loads it; docs/scores.md explains the rules).
-- It reads its thresholds from its row of analytics_rule, finds nothing while the rule is
-- inactive, and yields rule_id, subject, area_id, category_id, issue_id, support, detail.
-- The status lists in braces are filled in from issues.models (issues/statuses.py).
WITH r AS (
    SELECT id, GREATEST((params->>'count')::int, 1) AS n, (params->>'days')::float8 AS days
    FROM analytics_rule WHERE code = 'reopened' AND active
)
-- Reopened: a status change from resolved or closed back to an open status.
SELECT r.id AS rule_id, 'issue:' || i.id AS subject, i.area_id, i.category_id, i.id AS issue_id,
       count(*) AS support, jsonb_build_object('last_reopened_at', max(e.created_at)) AS detail
FROM issues_issueevent e JOIN issues_issue i ON i.id = e.issue_id CROSS JOIN r
WHERE e.kind = 'status_changed' AND e.data->>'from' IN {finished_statuses}
  AND e.data->>'to' IN {open_statuses}
  AND e.created_at >= now() - r.days * interval '1 day'
GROUP BY r.id, r.n, i.id
HAVING count(*) >= r.n
