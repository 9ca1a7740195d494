-- Layer 1: one row per known location with what the city's records and the platform's
-- own issues say about it. Each record's latest row counts (a correction is a newer row
-- with the same source id). Dates are compared with CURRENT_DATE.
SELECT l.id AS location_id,
       COALESCE(v.active_violations, 0) AS active_violations,
       v.oldest_open_violation_days,
       COALESCE(v.all_violations, 0) AS all_violations,
       COALESCE(v.violations_last_year, 0) AS violations_last_year,
       COALESCE(v.violations_this_year, 0) AS violations_this_year,
       COALESCE(i.failed_food_inspections_24m, 0) AS failed_food_inspections_24m,
       COALESCE(i.latest_inspection_high_risk_failed, false) AS latest_inspection_high_risk_failed,
       p.avg_permit_processing_days,
       COALESCE(p.timed_permits, 0) AS timed_permits,
       COALESCE(p.demolition_permits, 0) > 0 AS has_demolition_permit,
       COALESCE(p.demolition_permits, 0) AS demolition_permits,
       COALESCE(r.requests_311_12m, 0) AS requests_311_12m,
       COALESCE(t.lien_events, 0) AS lien_events,
       t.latest_lien_year,
       COALESCE(t.total_lien_amount, 0) AS total_lien_amount,
       COALESCE(t.priced_lien_events, 0) AS priced_lien_events,
       COALESCE(t.lien_tax_years, '{}') AS lien_tax_years,
       COALESCE(b.active_vacant_violations, 0) AS active_vacant_violations,
       COALESCE(b.vacant_fines_due, 0) AS vacant_fines_due,
       COALESCE(o.open_issues, 0) AS open_issues,
       COALESCE(o.open_issues_past_sla, 0) AS open_issues_past_sla
FROM reports_location l
LEFT JOIN (
    SELECT x.location_id,
           count(*) FILTER (WHERE upper(x.status) = 'OPEN') AS active_violations,
           CURRENT_DATE - min(x.violation_date) FILTER (WHERE upper(x.status) = 'OPEN') AS oldest_open_violation_days,
           count(*) AS all_violations,
           count(*) FILTER (WHERE date_part('year', x.violation_date) = date_part('year', CURRENT_DATE) - 1)
               AS violations_last_year,
           count(*) FILTER (WHERE date_part('year', x.violation_date) = date_part('year', CURRENT_DATE))
               AS violations_this_year
    FROM analytics_buildingviolation x
    WHERE x.location_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM analytics_buildingviolation n
        WHERE n.source_dataset = x.source_dataset AND n.source_id = x.source_id AND n.id > x.id)
    GROUP BY x.location_id
) v ON v.location_id = l.id
LEFT JOIN (
    SELECT x.location_id,
           count(*) FILTER (WHERE x.result ILIKE 'fail%' AND x.inspection_date > CURRENT_DATE - interval '24 months')
               AS failed_food_inspections_24m,
           -- The latest inspection: a high-risk facility (Risk 1) that failed it.
           (array_agg(x.risk_level ILIKE 'risk 1%' AND x.result ILIKE 'fail%'
                      ORDER BY x.inspection_date DESC, x.id DESC))[1] AS latest_inspection_high_risk_failed
    FROM analytics_foodinspection x
    WHERE x.location_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM analytics_foodinspection n
        WHERE n.source_dataset = x.source_dataset AND n.source_id = x.source_id AND n.id > x.id)
    GROUP BY x.location_id
) i ON i.location_id = l.id
LEFT JOIN (
    SELECT x.location_id,
           round(avg(x.processing_days), 1) AS avg_permit_processing_days,
           count(x.processing_days) AS timed_permits,
           count(*) FILTER (WHERE x.permit_type ILIKE '%wrecking%' OR x.permit_type ILIKE '%demolition%')
               AS demolition_permits
    FROM analytics_buildingpermit x
    WHERE x.location_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM analytics_buildingpermit n
        WHERE n.source_dataset = x.source_dataset AND n.source_id = x.source_id AND n.id > x.id)
    GROUP BY x.location_id
) p ON p.location_id = l.id
LEFT JOIN (
    -- Tax sale events are a parcel's: located through the parcel, whenever it was located.
    SELECT pa.location_id,
           count(*) AS lien_events,
           max(x.tax_year) AS latest_lien_year,
           COALESCE(sum(x.amount_offered), 0) AS total_lien_amount,
           -- What C3's total is made of, and the years C2 counts within its window (the
           -- window is the rule's, read in layer 2, so the years are kept, one per event).
           count(*) FILTER (WHERE x.amount_offered > 0) AS priced_lien_events,
           array_agg(x.tax_year) FILTER (WHERE x.tax_year IS NOT NULL) AS lien_tax_years
    FROM analytics_taxlienevent x
    JOIN analytics_parcel pa ON pa.pin = x.pin
    WHERE pa.location_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM analytics_taxlienevent n
        WHERE n.source_dataset = x.source_dataset AND n.source_id = x.source_id AND n.id > x.id)
    GROUP BY pa.location_id
) t ON t.location_id = l.id
LEFT JOIN (
    SELECT x.location_id,
           count(*) FILTER (WHERE x.amount_due > 0) AS active_vacant_violations,
           COALESCE(sum(x.amount_due) FILTER (WHERE x.amount_due > 0), 0) AS vacant_fines_due
    FROM analytics_vacantbuildingviolation x
    WHERE x.location_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM analytics_vacantbuildingviolation n
        WHERE n.source_dataset = x.source_dataset AND n.source_id = x.source_id AND n.id > x.id)
    GROUP BY x.location_id
) b ON b.location_id = l.id
-- The platform's own reports (311 requests, imported or live) and issues at the address.
LEFT JOIN LATERAL (
    SELECT count(*) AS requests_311_12m FROM reports_report rr
    WHERE rr.address_key = l.address_key AND rr.submitted_at > now() - interval '12 months'
) r ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS open_issues, count(*) FILTER (WHERE s.state = 'breached') AS open_issues_past_sla
    FROM issues_issue ii LEFT JOIN analytics_issuesla s ON s.issue_id = ii.id
    WHERE ii.address_key = l.address_key AND ii.status IN ('open', 'acknowledged', 'in_progress')
) o ON true
