-- category_surge: a category with at least `min_count` issues in the last `days` days and
-- at least `ratio` times its usual count for as many days over the `baseline_days` before.
-- Its count is the issues of the recent days.
--
-- One rule's query (analytics/rules/loader.py loads it; docs/scores.md explains the rules).
-- It reads its thresholds from its row of analytics_rule, finds nothing while the rule is
-- inactive, and yields rule_id, subject, area_id, category_id, issue_id, support, detail.
WITH r AS (
    SELECT id, GREATEST((params->>'days')::float8, 1) AS days, GREATEST((params->>'baseline_days')::float8, 1) AS base,
           (params->>'ratio')::float8 AS ratio, GREATEST((params->>'min_count')::int, 1) AS min_count
    FROM analytics_rule WHERE code = 'category_surge' AND active
),
counts AS (
    SELECT r.id AS rule_id, r.ratio, r.min_count, i.category_id,
           count(*) FILTER (WHERE i.created_at >= now() - r.days * interval '1 day') AS recent,
           -- The usual count of a period as long as the recent one, from the baseline before it.
           count(*) FILTER (WHERE i.created_at < now() - r.days * interval '1 day') * r.days / r.base AS usual
    FROM issues_issue i CROSS JOIN r
    WHERE i.created_at >= now() - (r.days + r.base) * interval '1 day' AND i.category_id IS NOT NULL
    GROUP BY r.id, r.ratio, r.min_count, r.days, r.base, i.category_id
)
SELECT rule_id, 'category:' || category_id AS subject, NULL::bigint AS area_id, category_id,
       NULL::bigint AS issue_id, recent AS support,
       jsonb_build_object('usual', round(usual::numeric, 2)) AS detail
FROM counts WHERE recent >= min_count AND recent >= ratio * usual
