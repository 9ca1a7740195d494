-- repeat_location: at least `count` issues within `radius_m` metres of each other, created in
-- the last `days` days. Fires on the earliest issue of each cluster; its count is the
-- issues within the radius.
--
-- One rule's query (analytics/rules/loader.py loads it; docs/scores.md explains the rules).
-- It reads its thresholds from its row of analytics_rule, finds nothing while the rule is
-- inactive, and yields rule_id, subject, area_id, category_id, issue_id, support, detail.
WITH r AS (
    SELECT id, GREATEST((params->>'count')::int, 1) AS n, GREATEST((params->>'radius_m')::float8, 1) AS rad,
           (params->>'days')::float8 AS days
    FROM analytics_rule WHERE code = 'repeat_location' AND active
),
recent AS (
    SELECT i.id, i.latitude AS lat, i.longitude AS lon, i.area_id, i.category_id, r.id AS rule_id, r.n, r.rad
    FROM issues_issue i CROSS JOIN r
    WHERE i.created_at >= now() - r.days * interval '1 day' AND i.latitude IS NOT NULL AND i.longitude IS NOT NULL
),
-- A grid of cells at least `radius` wide: neighbours within it are in the same or an
-- adjacent cell, so pairs come from an equi-join on cells instead of every pair.
grid AS (
    SELECT recent.*, floor(lat / (rad / 111320.03184534168))::bigint AS cy,
           floor(lon / (rad / (111320.03184534168 * cos(radians(LEAST(k.max_lat, 89.0))))))::bigint AS cx
    FROM recent CROSS JOIN (SELECT COALESCE(max(abs(lat)), 0) AS max_lat FROM recent) k
),
near AS (
    SELECT a.id, a.rule_id, a.n, a.area_id, a.category_id, count(*) AS support, min(b.id) AS first_id
    FROM grid a
    CROSS JOIN generate_series(-1, 1) dy CROSS JOIN generate_series(-1, 1) dx
    JOIN grid b ON b.cy = a.cy + dy AND b.cx = a.cx + dx
    -- Planar distance on the local tangent (equirectangular): well within a metre of the
    -- great-circle distance at these radii, and plain arithmetic, where earth_distance
    -- costs microseconds per pair.
    WHERE sqrt(power((b.lat - a.lat) * 111320.03184534168, 2)
               + power((b.lon - a.lon) * 111320.03184534168 * cos(radians((a.lat + b.lat) / 2)), 2)) <= a.rad
    GROUP BY a.id, a.rule_id, a.n, a.area_id, a.category_id
)
-- One flag per cluster: on its earliest issue.
SELECT rule_id, 'issue:' || id AS subject, area_id, category_id, id AS issue_id, support,
       jsonb_build_object('issues_nearby', support) AS detail
FROM near WHERE support >= n AND first_id = id
