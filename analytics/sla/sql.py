"""The SQL of the SLA engine. Every figure is one set-based statement over the tenant's
schema; nothing here loops over issues in Python.

Working time. The business calendar is materialised into CalendarInterval: working
intervals in UTC, each with `cum_before`, the working seconds of every interval before
it, and `cum_after` = cum_before + its length. The working seconds up to a moment t are

    cum(t) = cum_before + clamp(t − start_at, 0, length)   of the last interval starting at or before t,

so the working time between a and b is cum(b) − cum(a): one index probe per timestamp.
The inverse, the moment at which cum reaches w (a deadline), is the first interval whose
cum_after ≥ w, at start_at + (w − cum_before). A calendar-hour policy uses the same
formulas with cum(t) = epoch(t), so one statement serves both clocks.

Pauses. Paused time is measured on the policy's clock, clipped to the stretch of the
target (creation to acknowledgement, creation to resolution) and subtracted from the
time used; a deadline is pushed out by the paused time (cum(created) + target + paused).
"""

from issues.bulk.events import EVENT_ID_SQL, issue_events_insert_sql
from issues.statuses import FINISHED_STATUSES_SQL, OPEN_STATUSES_SQL

# Working seconds up to the timestamp expression `t`; 0 before the calendar's horizon.
_CUM_BUSINESS = """COALESCE((SELECT ci.cum_before + LEAST(GREATEST(EXTRACT(EPOCH FROM ({t}) - ci.start_at)::float8, 0),
                                              ci.cum_after - ci.cum_before)
           FROM analytics_calendarinterval ci WHERE ci.start_at <= ({t}) ORDER BY ci.start_at DESC LIMIT 1), 0)"""
# The moment the working seconds reach `w` (NULL beyond the horizon).
_INV_BUSINESS = """(SELECT ci.start_at + (({w}) - ci.cum_before) * interval '1 second'
           FROM analytics_calendarinterval ci WHERE ci.cum_after >= ({w}) ORDER BY ci.cum_after LIMIT 1)"""


def cum(t: str, clock: str) -> str:
    """SQL for the clock reading at `t` (seconds), for the clock named by SQL `clock`."""
    return (
        f"(CASE WHEN {clock} = 'calendar' THEN EXTRACT(EPOCH FROM ({t}))::float8 "
        f"ELSE {_CUM_BUSINESS.format(t=t)} END)"
    )


def inv(w: str, clock: str) -> str:
    """SQL for the moment the clock named by SQL `clock` reads `w`."""
    return f"(CASE WHEN {clock} = 'calendar' THEN to_timestamp({w}) ELSE {_INV_BUSINESS.format(w=w)} END)"


def business_seconds_sql(a: str, b: str) -> str:
    """SQL for the working seconds between two timestamp expressions (tests, selectors)."""
    return f"({_CUM_BUSINESS.format(t=b)} - {_CUM_BUSINESS.format(t=a)})"


# The policy version an issue is measured with: its category's, else the tenant default
# of its severity, in effect when the issue was created (see SlaPolicy).
_POLICY = """LEFT JOIN LATERAL (
    SELECT p.id AS policy_id, p.clock, p.acknowledge_hours::float8 * 3600 AS ack_t, p.resolve_hours::float8 * 3600 AS res_t
    FROM analytics_slapolicy p
    WHERE p.severity = i.severity AND (p.category_id = i.category_id OR p.category_id IS NULL)
      AND (p.effective_from IS NULL OR p.effective_from <= i.created_at)
      AND (p.superseded_at IS NULL OR p.superseded_at > i.created_at)
    ORDER BY p.category_id NULLS LAST LIMIT 1
) p ON true"""


def _measured(*, where: str, ack_end: str, res_end: str, now: str) -> str:
    """CTEs `base` (issue, policy, clock readings) and `m` (base plus paused time per
    target) for the issues matching `where`. `ack_end`/`res_end` are the ends of each
    target's stretch; open pauses count up to `now`."""
    return f"""
    base AS MATERIALIZED (
        SELECT i.id, i.created_at, i.acknowledged_at, i.resolved_at, i.category_id, i.severity,
               i.assignee_id, i.department_id,
               p.policy_id, p.clock, p.ack_t, p.res_t,
               {cum("i.created_at", "p.clock")} AS created_c,
               {cum(ack_end, "p.clock")} AS ack_end_c,
               {cum(res_end, "p.clock")} AS res_end_c
        FROM issues_issue i {_POLICY}
        WHERE {where} AND p.policy_id IS NOT NULL
    ),
    pauses AS (
        SELECT b.id,
               SUM(GREATEST(0, LEAST(x.pe, b.ack_end_c) - GREATEST(x.ps, b.created_c))) AS ack_p,
               SUM(GREATEST(0, LEAST(x.pe, b.res_end_c) - GREATEST(x.ps, b.created_c))) AS res_p,
               bool_or(x.open) AS paused
        FROM base b
        JOIN LATERAL (
            SELECT {cum("pa.started_at", "b.clock")} AS ps,
                   {cum(f"COALESCE(pa.ended_at, {now})", "b.clock")} AS pe,
                   pa.ended_at IS NULL AS open
            FROM analytics_issuepause pa WHERE pa.issue_id = b.id
        ) x ON true
        GROUP BY b.id
    ),
    m AS (
        SELECT b.*, COALESCE(z.ack_p, 0) AS ack_p, COALESCE(z.res_p, 0) AS res_p, COALESCE(z.paused, false) AS paused,
               GREATEST(b.ack_end_c - b.created_c - COALESCE(z.ack_p, 0), 0) AS ack_s,
               GREATEST(b.res_end_c - b.created_c - COALESCE(z.res_p, 0), 0) AS res_s
        FROM base b LEFT JOIN pauses z ON z.id = b.id
    )"""


def evaluate_sql() -> str:
    """One pass over every open issue: upsert its IssueSla row, record each threshold
    crossed for the first time as an SlaCrossing and an IssueEvent. Parameters: now
    (several times, named), the event sequence is read from the catalogue."""
    measured = _measured(
        where=f"i.status IN {OPEN_STATUSES_SQL}",
        ack_end="COALESCE(i.acknowledged_at, %(now)s)",
        res_end="%(now)s",
        now="%(now)s",
    )
    crossed_at = inv("ev.created_c + th.threshold / 100.0 * t.target_s + t.paused_s", "ev.clock")
    return f"""
    WITH {measured},
    ev AS (
        SELECT m.*, m.ack_s / m.ack_t AS ack_used, m.res_s / m.res_t AS res_used,
               {inv("m.created_c + m.ack_t + m.ack_p", "m.clock")} AS ack_due,
               {inv("m.created_c + m.res_t + m.res_p", "m.clock")} AS res_due
        FROM m
    ),
    up AS (
        INSERT INTO analytics_issuesla AS s (issue_id, policy_id, ack_due_at, resolve_due_at, next_due_at, ack_used,
                                         resolve_used, paused_seconds, paused, state, evaluated_at)
        SELECT id, policy_id, ack_due, res_due, CASE WHEN acknowledged_at IS NULL THEN ack_due ELSE res_due END,
               ack_used, res_used, res_p, paused,
               CASE WHEN GREATEST(ack_used, res_used) >= 1 THEN 'breached'
                    WHEN GREATEST(ack_used, res_used) >= 0.5 THEN 'at_risk' ELSE 'on_track' END,
               %(now)s
        FROM ev
        ON CONFLICT (issue_id) DO UPDATE SET
            policy_id = EXCLUDED.policy_id, ack_due_at = EXCLUDED.ack_due_at, resolve_due_at = EXCLUDED.resolve_due_at,
            next_due_at = EXCLUDED.next_due_at, ack_used = EXCLUDED.ack_used, resolve_used = EXCLUDED.resolve_used,
            paused_seconds = EXCLUDED.paused_seconds, paused = EXCLUDED.paused, state = EXCLUDED.state,
            evaluated_at = EXCLUDED.evaluated_at
        RETURNING 1
    ),
    reached AS (
        -- Each threshold of each target the issue has used up, with the level it is at now.
        SELECT ev.id AS issue_id, t.target, th.threshold, t.used, t.running,
               {crossed_at} AS crossed_at,
               ev.assignee_id, ev.department_id, ev.policy_id,
               CASE WHEN t.used >= 1 THEN 100 WHEN t.used >= 0.75 THEN 75 ELSE 50 END AS level
        FROM ev
        CROSS JOIN LATERAL (VALUES
            ('acknowledge', ev.ack_used, ev.ack_t, ev.ack_p, ev.acknowledged_at IS NULL),
            ('resolve', ev.res_used, ev.res_t, ev.res_p, true)
        ) AS t(target, used, target_s, paused_s, running)
        JOIN (VALUES (50), (75), (100)) AS th(threshold) ON t.used >= th.threshold / 100.0
    ),
    fresh AS (
        SELECT r.*, {EVENT_ID_SQL} AS event_id,
               -- Told: 75 %% and breach, for a clock still running, at the level reached now
               -- (a first pass finding a breach says so once, not three times).
               -- Only news is told: a threshold crossed more than a day ago (a backlog of
               -- imported history, a tenant's first pass) is recorded, not mailed.
               CASE WHEN r.running AND r.threshold >= 75 AND r.threshold = r.level
                         AND COALESCE(r.crossed_at, %(now)s) >= %(now)s - interval '1 day'
                    THEN COALESCE(NULLIF(u.email, ''), NULLIF(d.email, ''), '') ELSE '' END AS recipient
        FROM reached r
        LEFT JOIN auth_user u ON u.id = r.assignee_id
        LEFT JOIN issues_department d ON d.id = r.department_id
        WHERE NOT EXISTS (SELECT 1 FROM analytics_slacrossing c
                          WHERE c.issue_id = r.issue_id AND c.target = r.target AND c.threshold = r.threshold)
    ),
    sla_events AS (
        SELECT event_id, issue_id, CASE WHEN threshold = 100 THEN 'sla_breached' ELSE 'sla_at_risk' END AS kind,
               'sla' AS actor_label, %(now)s AS created_at,
               jsonb_build_object('target', target, 'threshold', threshold, 'crossed_at', crossed_at,
                                  'policy', policy_id) AS data
        FROM fresh
    ),
    -- Written by the issues app's set-based twin of issue_event_record.
    events AS ({issue_events_insert_sql("sla_events")}),
    crossings AS (
        INSERT INTO analytics_slacrossing (issue_id, target, threshold, crossed_at, recorded_at, event_id, recipient)
        SELECT issue_id, target, threshold, COALESCE(crossed_at, %(now)s), %(now)s, event_id, recipient FROM fresh
        RETURNING recipient
    )
    SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM crossings),
           (SELECT count(*) FROM crossings WHERE recipient <> ''), (SELECT count(*) FROM events)
    """


def metrics_sql() -> str:
    """Upsert the SlaMetric of every resolved issue with id in [%(lo)s, %(hi)s), resolved in
    [%(since)s, %(until)s) and changed since %(changed_since)s (each may be NULL: unbounded)."""
    ack_end = "LEAST(COALESCE(i.acknowledged_at, i.resolved_at), i.resolved_at)"
    measured = _measured(
        where=(
            f"i.id >= %(lo)s AND i.id < %(hi)s AND i.status IN {FINISHED_STATUSES_SQL} "
            "AND i.resolved_at IS NOT NULL "
            "AND (%(since)s::timestamptz IS NULL OR i.resolved_at >= %(since)s) "
            "AND (%(until)s::timestamptz IS NULL OR i.resolved_at < %(until)s) "
            "AND (%(changed_since)s::timestamptz IS NULL OR i.updated_at >= %(changed_since)s)"
        ),
        ack_end=ack_end,
        res_end="i.resolved_at",
        now="b.resolved_at",
    )
    return f"""
    WITH {measured}
    INSERT INTO analytics_slametric AS s (issue_id, policy_id, clock, category_id, severity, created_at, resolved_at,
        ack_seconds, resolve_seconds, ack_target_seconds, resolve_target_seconds, ack_met, resolve_met,
        paused_seconds, computed_at)
    SELECT id, policy_id, clock, category_id, severity, created_at, resolved_at, ack_s, res_s, ack_t, res_t,
           ack_s <= ack_t, res_s <= res_t, res_p, %(now)s
    FROM m
    ON CONFLICT (issue_id) DO UPDATE SET
        policy_id = EXCLUDED.policy_id, clock = EXCLUDED.clock, category_id = EXCLUDED.category_id,
        severity = EXCLUDED.severity, created_at = EXCLUDED.created_at, resolved_at = EXCLUDED.resolved_at,
        ack_seconds = EXCLUDED.ack_seconds, resolve_seconds = EXCLUDED.resolve_seconds,
        ack_target_seconds = EXCLUDED.ack_target_seconds, resolve_target_seconds = EXCLUDED.resolve_target_seconds,
        ack_met = EXCLUDED.ack_met, resolve_met = EXCLUDED.resolve_met, paused_seconds = EXCLUDED.paused_seconds,
        computed_at = EXCLUDED.computed_at
    """


def materialise_sql() -> str:
    """Rebuild CalendarInterval for local dates [%(start)s, %(end)s] in zone %(tz)s.
    Each local opening interval is turned into UTC on its own date, so a daylight-saving
    change moves the UTC times of that date and no other."""
    return """
    DELETE FROM analytics_calendarinterval;
    INSERT INTO analytics_calendarinterval (start_at, end_at, cum_before, cum_after)
    SELECT start_at, end_at,
           COALESCE(SUM(secs) OVER w, 0) - secs,
           COALESCE(SUM(secs) OVER w, 0)
    FROM (
        SELECT start_at, end_at, EXTRACT(EPOCH FROM end_at - start_at)::float8 AS secs
        FROM (
            SELECT (d::date + oh.opens) AT TIME ZONE %(tz)s AS start_at,
                   (CASE WHEN oh.closes = time '00:00' THEN d::date + 1 + time '00:00' ELSE d::date + oh.closes END)
                       AT TIME ZONE %(tz)s AS end_at
            FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') d
            JOIN analytics_openinghours oh ON oh.weekday = EXTRACT(ISODOW FROM d)::int - 1
            WHERE NOT EXISTS (SELECT 1 FROM analytics_holiday h WHERE h.date = d::date)
        ) local
        WHERE end_at > start_at
    ) iv
    WINDOW w AS (ORDER BY start_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
    """
