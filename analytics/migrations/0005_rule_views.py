"""The rules as SQL views over the issue data, one per rule code, and their union
`analytics_rule_firing`. Each view reads its thresholds from the rule's row (so an admin
edit changes what it finds), returns nothing while the rule is inactive, and yields one
row per subject it fires on: rule, subject key, area, category, issue, the supporting
count and details. analytics.services.rules_evaluate turns the rows into flags.
Then the default rules and score settings of existing tenants (and the template)."""
from django.db import migrations

VIEWS = """
CREATE VIEW analytics_rule_repeat_location AS
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
    SELECT recent.*, floor(lat / (rad / 111320.0))::bigint AS cy,
           floor(lon / (rad / (111320.0 * cos(radians(LEAST(k.max_lat, 89.0))))))::bigint AS cx
    FROM recent CROSS JOIN (SELECT COALESCE(max(abs(lat)), 0) AS max_lat FROM recent) k
),
near AS (
    SELECT a.id, a.rule_id, a.n, a.area_id, a.category_id, count(*) AS support, min(b.id) AS first_id
    FROM grid a
    CROSS JOIN generate_series(-1, 1) dy CROSS JOIN generate_series(-1, 1) dx
    JOIN grid b ON b.cy = a.cy + dy AND b.cx = a.cx + dx
    WHERE public.earth_distance(public.ll_to_earth(a.lat, a.lon), public.ll_to_earth(b.lat, b.lon)) <= a.rad
    GROUP BY a.id, a.rule_id, a.n, a.area_id, a.category_id
)
-- One flag per cluster: on its earliest issue.
SELECT rule_id, 'issue:' || id AS subject, area_id, category_id, id AS issue_id, support,
       jsonb_build_object('issues_nearby', support) AS detail
FROM near WHERE support >= n AND first_id = id;

CREATE VIEW analytics_rule_chronic_breach AS
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
HAVING count(*) >= r.min_resolved AND count(*) FILTER (WHERE NOT m.resolve_met) >= r.share * count(*);

CREATE VIEW analytics_rule_aging_open AS
WITH r AS (
    SELECT id, GREATEST((params->>'count')::int, 1) AS n, (params->>'days')::float8 AS days
    FROM analytics_rule WHERE code = 'aging_open' AND active
)
SELECT r.id AS rule_id, 'area:' || COALESCE(i.area_id::text, 'none') AS subject, i.area_id,
       NULL::bigint AS category_id, NULL::bigint AS issue_id, count(*) AS support,
       jsonb_build_object('oldest_days', round((EXTRACT(EPOCH FROM now() - min(i.created_at)) / 86400)::numeric, 1))
           AS detail
FROM issues_issue i CROSS JOIN r
WHERE i.status IN ('open', 'acknowledged', 'in_progress') AND i.created_at < now() - r.days * interval '1 day'
GROUP BY r.id, r.n, i.area_id
HAVING count(*) >= r.n;

CREATE VIEW analytics_rule_reopened AS
WITH r AS (
    SELECT id, GREATEST((params->>'count')::int, 1) AS n, (params->>'days')::float8 AS days
    FROM analytics_rule WHERE code = 'reopened' AND active
)
-- Reopened: a status change from resolved or closed back to an open status.
SELECT r.id AS rule_id, 'issue:' || i.id AS subject, i.area_id, i.category_id, i.id AS issue_id,
       count(*) AS support, jsonb_build_object('last_reopened_at', max(e.created_at)) AS detail
FROM issues_issueevent e JOIN issues_issue i ON i.id = e.issue_id CROSS JOIN r
WHERE e.kind = 'status_changed' AND e.data->>'from' IN ('resolved', 'closed')
  AND e.data->>'to' IN ('open', 'acknowledged', 'in_progress')
  AND e.created_at >= now() - r.days * interval '1 day'
GROUP BY r.id, r.n, i.id
HAVING count(*) >= r.n;

CREATE VIEW analytics_rule_category_surge AS
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
FROM counts WHERE recent >= min_count AND recent >= ratio * usual;

CREATE VIEW analytics_rule_firing AS
SELECT * FROM analytics_rule_repeat_location
UNION ALL SELECT * FROM analytics_rule_chronic_breach
UNION ALL SELECT * FROM analytics_rule_aging_open
UNION ALL SELECT * FROM analytics_rule_reopened
UNION ALL SELECT * FROM analytics_rule_category_surge;
"""

DROP = """
DROP VIEW analytics_rule_firing;
DROP VIEW analytics_rule_repeat_location;
DROP VIEW analytics_rule_chronic_breach;
DROP VIEW analytics_rule_aging_open;
DROP VIEW analytics_rule_reopened;
DROP VIEW analytics_rule_category_surge;
"""


def defaults_install(apps, schema_editor) -> None:
    """The rules at version 1 and the score settings (analytics.services keeps the same
    defaults for new tenants)."""
    from analytics.rules.definitions import RULE_DEFINITIONS

    Rule = apps.get_model("analytics", "Rule")
    RuleVersion = apps.get_model("analytics", "RuleVersion")
    apps.get_model("analytics", "ScoreSettings").objects.get_or_create(id=1)
    for code, definition in RULE_DEFINITIONS.items():
        params = {name: default for name, (default, _) in definition["params"].items()}
        rule, created = Rule.objects.get_or_create(
            code=code, defaults={"description": definition["description"], "concern": definition["concern"],
                                 "params": params},
        )
        if created:
            RuleVersion.objects.create(rule=rule, version=1, params=params, weight=rule.weight, active=True)


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0004_scores_rules"),
    ]

    operations = [
        migrations.RunSQL(VIEWS, reverse_sql=DROP),
        migrations.RunPython(defaults_install, migrations.RunPython.noop),
    ]
