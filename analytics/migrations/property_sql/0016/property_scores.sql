-- Layer 3: the raw score (the firing rules' severities summed), the tier its score
-- reaches (analytics_propertytierbound: the highest bound at or below it), and the
-- firing rules' codes. One row per known location.
SELECT g.location_id, g.raw_score,
       COALESCE((SELECT b.tier FROM analytics_propertytierbound b WHERE b.min_score <= g.raw_score
                 ORDER BY b.min_score DESC LIMIT 1), 'LOW') AS tier,
       g.flag_codes
FROM (
    SELECT l.id AS location_id,
           COALESCE(sum(f.severity), 0)::integer AS raw_score,
           COALESCE(array_agg(f.rule_code::text ORDER BY f.rule_code) FILTER (WHERE f.rule_code IS NOT NULL),
                    '{}'::text[]) AS flag_codes
    FROM reports_location l
    LEFT JOIN property_flags f ON f.location_id = l.id
    GROUP BY l.id
) g
