-- chronic_breach: an area where at least `share` of the issues resolved in the last `days`
-- days missed their resolution target, out of at least `min_resolved`. Its count is the
-- issues resolved late.
--
-- One rule's query (analytics/rules/loader.py loads it; docs/scores.md explains the rules).
-- It reads its thresholds from its row of analytics_rule, finds nothing while the rule is
-- inactive, and yields rule_id, subject, area_id, category_id, issue_id, support, detail.
WITH r AS (
    SELECT id, (params->>'share')::float8 AS share, GREATEST((params->>'min_resolved')::int, 1) AS min_resolved,
           (params->>'days')::float8 AS days
    FROM analytics_rule WHERE code = 'chronic_breach' AND active
)
SELECT r.id AS rule_id, 'area:' || i.area_id AS subject, i.area_id, NULL::bigint AS category_id,
       NULL::bigint AS issue_id, count(*) FILTER (WHERE NOT m.resolve_met) AS support,
       jsonb_build_object('resolved', count(*),
                          'missed_share', round((count(*) FILTER (WHERE NOT m.resolve_met))::numeric / count(*), 3))
           AS detail
FROM analytics_slametric m JOIN issues_issue i ON i.id = m.issue_id CROSS JOIN r
WHERE m.resolved_at >= now() - r.days * interval '1 day' AND i.area_id IS NOT NULL
GROUP BY r.id, r.share, r.min_resolved, i.area_id
HAVING count(*) >= r.min_resolved AND count(*) FILTER (WHERE NOT m.resolve_met) >= r.share * count(*)
