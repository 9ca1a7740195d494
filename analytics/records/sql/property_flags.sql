-- Layer 2: the fifteen rules, one SELECT each, over each location's summary (layer 1).
-- Thresholds, years, severity and activity come from the rules' current versions
-- (analytics_propertyrule); only firing rules produce rows. supporting_count is the number
-- of records behind the verdict: those counted, or summed (C3, D2), or within the
-- rule's window (C2); docs/records.md lists each.
SELECT s.location_id, f.rule_code, f.category, f.description, f.severity, f.supporting_count, f.rule_version
FROM property_location_summary s
CROSS JOIN LATERAL (
    SELECT r.code, r.category, r.description, r.severity, (s.active_violations)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'A1' AND r.active AND s.active_violations >= r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.active_violations)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'A2' AND r.active AND s.oldest_open_violation_days > r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.violations_this_year)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'A3' AND r.active AND s.violations_this_year >= s.violations_last_year + r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.all_violations)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'A4' AND r.active AND s.all_violations >= r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.demolition_permits)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'A5' AND r.active AND s.has_demolition_permit
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.failed_food_inspections_24m)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'B1' AND r.active AND s.failed_food_inspections_24m >= r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (1)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'B2' AND r.active AND s.latest_inspection_high_risk_failed
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.lien_events)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'C1' AND r.active AND s.lien_events >= r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity,
           (SELECT count(*) FROM unnest(s.lien_tax_years) y WHERE y >= date_part('year', CURRENT_DATE) - r.years),
           r.version
    FROM analytics_propertyrule r WHERE r.code = 'C2' AND r.active AND s.latest_lien_year >= date_part('year', CURRENT_DATE) - r.years
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.priced_lien_events)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'C3' AND r.active AND s.total_lien_amount > r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.active_vacant_violations)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'D1' AND r.active AND s.active_vacant_violations > 0
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.active_vacant_violations)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'D2' AND r.active AND s.vacant_fines_due > r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.timed_permits)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'D3' AND r.active AND s.avg_permit_processing_days > r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.requests_311_12m)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'D4' AND r.active AND s.requests_311_12m >= r.threshold
    UNION ALL
    SELECT r.code, r.category, r.description, r.severity, (s.open_issues_past_sla)::bigint, r.version
    FROM analytics_propertyrule r WHERE r.code = 'D5' AND r.active AND s.open_issues_past_sla >= r.threshold
) AS f (rule_code, category, description, severity, supporting_count, rule_version)
