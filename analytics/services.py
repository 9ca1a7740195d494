"""Writes on SLA configuration, pauses, the evaluation pass and metrics."""
import logging
import time as clock
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from analytics import scoring, sla
from analytics.models import (
    RULE_DEFINITIONS,
    BusinessCalendar,
    IssuePause,
    OpeningHours,
    PauseReason,
    Rule,
    RuleVersion,
    ScoreRun,
    ScoreScope,
    ScoreSettings,
    ScoreSnapshot,
    SlaClock,
    SlaCrossing,
    SlaMetric,
    SlaPolicy,
)
from issues.models import OPEN_STATUSES, Category, Issue, IssueEvent, Severity
from issues.services import issue_event_record
from tenants.selectors import current_timezone_name, tenant_days_bounds
from tenants.services import leaderboard_record

logger = logging.getLogger(__name__)

# Tenant-wide targets (acknowledge, resolve) in hours, by severity.
DEFAULT_TARGETS: dict[str, tuple[int, int]] = {
    Severity.CRITICAL: (1, 24),
    Severity.HIGH: (4, 72),
    Severity.MEDIUM: (24, 168),
    Severity.LOW: (48, 336),
}
# Categories where a failure is dangerous get tighter targets when they are critical.
URGENT_CATEGORY_TARGETS: dict[str, tuple[int, int]] = {
    "traffic_signals": (1, 4),
    "water_sewer": (1, 8),
    "elevators": (1, 8),
    "safety_hazard": (1, 4),
}
DEFAULT_PAUSE_REASONS: dict[str, str] = {
    "contractor": "Waiting on a contractor",
    "parts": "Waiting on parts",
    "weather": "Waiting on the weather",
    "resident": "Waiting on the resident",
}
# Monday to Friday, 9:00 to 17:00 local time, until staff say otherwise.
DEFAULT_OPENING_HOURS = [(weekday, time(9), time(17)) for weekday in range(5)]
# The calendar is materialised this far around the issues it measures: a deadline of the
# longest target (336 business hours, about ten weeks) always falls inside.
HORIZON_AHEAD = timedelta(days=730)
HORIZON_MARGIN = timedelta(days=7)


@transaction.atomic
def sla_policies_install_defaults(*, tenant: object) -> int:
    """Give a new tenant default SLA targets, pause reasons, a business calendar, score
    settings and rules in the current schema. Idempotent. Returns how many policies were
    created."""
    wanted: list[SlaPolicy] = [
        SlaPolicy(severity=sev, acknowledge_hours=Decimal(ack), resolve_hours=Decimal(res))
        for sev, (ack, res) in DEFAULT_TARGETS.items()
    ]
    for category in Category.objects.filter(code__in=URGENT_CATEGORY_TARGETS):
        ack, res = URGENT_CATEGORY_TARGETS[category.code]
        wanted.append(
            SlaPolicy(
                category=category,
                severity=Severity.CRITICAL,
                acknowledge_hours=Decimal(ack),
                resolve_hours=Decimal(res),
            )
        )
    existing = set(SlaPolicy.objects.values_list("category_id", "severity"))
    created = SlaPolicy.objects.bulk_create(
        p for p in wanted if (p.category_id, p.severity) not in existing
    )
    pause_reasons_install_defaults()
    calendar_install_default()
    ScoreSettings.objects.get_or_create(id=1)
    rules_install_defaults()
    return len(created)


def pause_reasons_install_defaults() -> None:
    existing = set(PauseReason.objects.values_list("code", flat=True))
    PauseReason.objects.bulk_create(
        PauseReason(code=code, name=name) for code, name in DEFAULT_PAUSE_REASONS.items() if code not in existing
    )


def calendar_install_default() -> BusinessCalendar:
    calendar, created = BusinessCalendar.objects.get_or_create(id=1)
    if created:
        OpeningHours.objects.bulk_create(
            OpeningHours(calendar=calendar, weekday=d, opens=o, closes=c) for d, o, c in DEFAULT_OPENING_HOURS
        )
    return calendar


# ---------------------------------------------------------------------------
# Policies


@transaction.atomic
def sla_policy_revise(
    *, policy_id: int, actor: AbstractBaseUser | None = None, at: datetime | None = None, **changes: object
) -> SlaPolicy:
    """Edit a policy by superseding it with its next version: metrics measured with the
    old one keep it. Issues created from now on are measured with the new version."""
    at = at or timezone.now()
    old = SlaPolicy.objects.select_for_update().get(pk=policy_id)
    if old.superseded_at is not None:
        raise ValidationError("This version has been superseded already; edit the current one.")
    allowed = {"acknowledge_hours", "resolve_hours", "clock"}
    if set(changes) - allowed:
        raise ValidationError(f"Only {', '.join(sorted(allowed))} can change; a new scope is a new policy.")
    new = SlaPolicy(
        category_id=old.category_id, severity=old.severity, acknowledge_hours=old.acknowledge_hours,
        resolve_hours=old.resolve_hours, clock=old.clock, version=old.version + 1, effective_from=at, created_by=actor,
    )
    for field, value in changes.items():
        setattr(new, field, value)
    if all(getattr(new, f) == getattr(old, f) for f in allowed):
        return old  # nothing changed: no version without a difference
    new.full_clean(exclude=["category"], validate_constraints=False)
    old.superseded_at = at
    old.save(update_fields=["superseded_at"])
    new.save()
    logger.info("sla policy revised", extra={"policy": old.pk, "new_policy": new.pk, "version": new.version})
    return new


@transaction.atomic
def sla_policy_create(
    *, category: Category | None, severity: str, acknowledge_hours: Decimal, resolve_hours: Decimal,
    clock: str = SlaClock.BUSINESS, actor: AbstractBaseUser | None = None,
) -> SlaPolicy:
    """A policy for a scope that has none: version 1, in effect for issues created from now."""
    policy = SlaPolicy(
        category=category, severity=severity, acknowledge_hours=acknowledge_hours, resolve_hours=resolve_hours,
        clock=clock, effective_from=timezone.now(), created_by=actor,
    )
    policy.full_clean()
    policy.save()
    return policy


# ---------------------------------------------------------------------------
# Calendar


@transaction.atomic
def calendar_materialise(*, start: date | None = None, end: date | None = None) -> int:
    """Rebuild the working intervals of the tenant's calendar for [start, end] (local
    dates); by default the span it already covers, widened to the issues it measures.
    Returns how many intervals there are."""
    calendar = calendar_install_default()
    oldest = Issue.objects.aggregate(at=Min("created_at"))["at"]
    today = timezone.now().date()
    start = start or min(
        d for d in (calendar.horizon_start, (oldest.date() if oldest else today) - HORIZON_MARGIN) if d is not None
    )
    end = end or max(d for d in (calendar.horizon_end, today + HORIZON_AHEAD) if d is not None)
    tz = current_timezone_name()
    with connection.cursor() as cursor:
        cursor.execute(sla.materialise_sql(), {"start": start, "end": end, "tz": tz})
        cursor.execute("SELECT count(*) FROM analytics_calendarinterval")
        count = cursor.fetchone()[0]
    BusinessCalendar.objects.filter(pk=calendar.pk).update(
        materialised_timezone=tz, horizon_start=start, horizon_end=end
    )
    return count


def calendar_ensure(*, since: datetime | None = None) -> None:
    """Materialise the calendar if it is missing, stale (the tenant changed time zone) or
    its horizon no longer covers `since` to two years ahead, less a month of slack."""
    calendar = calendar_install_default()
    today = timezone.now().date()
    needed_start = (since.date() if since else today) - timedelta(days=1)
    if (
        calendar.horizon_start is None
        or calendar.materialised_timezone != current_timezone_name()
        or calendar.horizon_start > needed_start
        or calendar.horizon_end < today + HORIZON_AHEAD - timedelta(days=30)
    ):
        calendar_materialise(
            start=min(d for d in (calendar.horizon_start, needed_start - HORIZON_MARGIN) if d is not None),
            end=today + HORIZON_AHEAD,
        )


# ---------------------------------------------------------------------------
# Pauses


@transaction.atomic
def issue_pause(
    *, issue_id: int, reason: PauseReason, actor: AbstractBaseUser | None = None, note: str = "",
    at: datetime | None = None,
) -> IssuePause:
    """Stop an open issue's SLA clocks while it waits on something outside the tenant's
    control, and record it on the issue's trail."""
    at = at or timezone.now()
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    if issue.status not in OPEN_STATUSES:
        raise ValidationError("Only an open issue's clock can be paused.")
    if not reason.active:
        raise ValidationError({"reason": "This pause reason is no longer in use."})
    if IssuePause.objects.filter(issue_id=issue_id, ended_at=None).exists():
        raise ValidationError("The issue's clock is paused already.")
    pause = IssuePause.objects.create(issue=issue, reason=reason, started_at=at, note=note, started_by=actor)
    issue_event_record(
        issue_id=issue_id, kind=IssueEvent.Kind.PAUSED, actor=actor, at=at,
        data={"pause": pause.pk, "reason": reason.code, **({"note": note} if note else {})},
    )
    return pause


@transaction.atomic
def issue_resume(*, issue_id: int, actor: AbstractBaseUser | None = None, at: datetime | None = None) -> IssuePause:
    """Start the clocks again. Resolving or closing an issue does not end a pause by
    itself: the paused stretch is clipped at resolution when measured."""
    at = at or timezone.now()
    pause = IssuePause.objects.select_for_update().filter(issue_id=issue_id, ended_at=None).first()
    if pause is None:
        raise ValidationError("The issue's clock is not paused.")
    if at < pause.started_at:
        raise ValidationError("A pause cannot end before it started.")
    pause.ended_at = at
    pause.ended_by = actor
    pause.save(update_fields=["ended_at", "ended_by"])
    issue_event_record(
        issue_id=issue_id, kind=IssueEvent.Kind.RESUMED, actor=actor, at=at,
        data={"pause": pause.pk, "reason": pause.reason.code,
              "paused_seconds": round((pause.ended_at - pause.started_at).total_seconds())},
    )
    return pause


# ---------------------------------------------------------------------------
# Evaluation and metrics


@dataclass(frozen=True)
class EvaluationResult:
    evaluated: int
    crossings: int
    to_notify: int
    metrics: int


def sla_evaluate(*, now: datetime | None = None) -> EvaluationResult:
    """Evaluate every open issue of the current tenant in one statement: deadlines, used
    shares and states, each threshold crossing recorded once (with its event). Then the
    metrics of issues resolved since the previous pass. Notifications are queued after
    commit."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock("sla")  # one pass per tenant at a time: two would race on the same crossings
        # The calendar must reach back to every issue measured: open ones and those
        # resolved since the last pass, which may be older than any open one.
        calendar_ensure(since=Issue.objects.aggregate(at=Min("created_at"))["at"])
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM analytics_issuesla s USING issues_issue i "
                f"WHERE i.id = s.issue_id AND i.status NOT IN {sla.OPEN_STATUSES_SQL}"
            )
            # One long statement: compiling it (JIT) costs more than it saves.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(sla.evaluate_sql(), {"now": now})
            evaluated, crossings, to_notify, _ = cursor.fetchone()
        metrics = _metrics_since_last_pass(now=now)
        if to_notify:
            transaction.on_commit(_queue_notifications)
    logger.info("sla evaluated", extra={"evaluated": evaluated, "crossings": crossings, "to_notify": to_notify})
    return EvaluationResult(evaluated, crossings, to_notify, metrics)


def _metrics_since_last_pass(*, now: datetime) -> int:
    """Metrics for issues resolved since the newest metric (less an hour, for issues
    resolved with a back-dated time), and removal of those reopened since."""
    newest = SlaMetric.objects.aggregate(at=Max("computed_at"))["at"]
    _metrics_of_reopened_delete()
    issues = Issue.objects.filter(status__in=("resolved", "closed"), resolved_at__isnull=False)
    if newest is not None:
        # Resolution stamps `updated_at`; an hour of overlap covers back-dated resolutions.
        issues = issues.filter(updated_at__gte=newest - timedelta(hours=1))
    bounds = issues.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return 0
    return sla_metrics_compute(
        lo=bounds["lo"], hi=bounds["hi"] + 1, now=now, changed_since=newest - timedelta(hours=1) if newest else None
    )


def _metrics_of_reopened_delete() -> None:
    """Metrics of issues reopened since they were measured are no longer true."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM analytics_slametric s USING issues_issue i "
            "WHERE i.id = s.issue_id AND (i.status NOT IN ('resolved', 'closed') OR i.resolved_at IS NULL)"
        )


def sla_metrics_compute(
    *, lo: int, hi: int, now: datetime | None = None, since: datetime | None = None, until: datetime | None = None,
    changed_since: datetime | None = None,
) -> int:
    """Compute (or recompute) the metrics of resolved issues with id in [lo, hi),
    resolved in [since, until) and changed since `changed_since`, when given."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # compiling each chunk's statement costs more than it saves
        cursor.execute(
            sla.metrics_sql(),
            {"lo": lo, "hi": hi, "now": now, "since": since, "until": until, "changed_since": changed_since},
        )
        return cursor.rowcount


def sla_metrics_recompute(
    *, since: date | None = None, until: date | None = None, chunk: int = 50_000,
    progress: Callable[[int], None] | None = None, total: Callable[[int], None] | None = None,
) -> int:
    """Rebuild the metrics of issues resolved in [since, until] (the tenant's local
    dates, both ends included; without them: everything), in id-range chunks so the
    caller can show progress. Returns how many metrics were written."""
    calendar_ensure(since=Issue.objects.aggregate(at=Min("created_at"))["at"])
    start, end = tenant_days_bounds(since, until)
    _metrics_of_reopened_delete()
    bounds = Issue.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return 0
    if total:
        total(bounds["hi"] - bounds["lo"] + 1)
    written = 0
    now = timezone.now()
    for lo in range(bounds["lo"], bounds["hi"] + 1, chunk):
        hi = min(lo + chunk, bounds["hi"] + 1)
        written += sla_metrics_compute(lo=lo, hi=hi, now=now, since=start, until=end)
        if progress:
            progress(hi - lo)
    return written


# ---------------------------------------------------------------------------
# Notifications


def _queue_notifications() -> None:
    from analytics.tasks import notify_sla

    try:
        notify_sla.apply_async(retry=False)
    except Exception as exc:  # broker down: the next pass queues the pending ones again
        logger.warning("could not queue sla notifications", extra={"error": repr(exc)})


def sla_notify_pending() -> int:
    """Email each recipient the thresholds its issues crossed (75 % and breach), one
    email per recipient and pass. Each recipient is claimed, sent and stamped in its own
    transaction: a failed send rolls back only that recipient's claim (the task retries
    it), and a recipient already sent to is never sent to again. Only the crossing rows
    are locked, never the issues, so the pipeline and staff are not held up by the mail
    server."""
    sent = 0
    recipients = list(
        SlaCrossing.objects.filter(notified_at=None).exclude(recipient="")
        .order_by("recipient").values_list("recipient", flat=True).distinct()
    )
    for recipient in recipients:
        with transaction.atomic():
            items = list(
                SlaCrossing.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(notified_at=None, recipient=recipient)
                .select_related("issue").order_by("issue_id", "target", "threshold")
            )
            if not items:
                continue  # another worker has it
            lines = [
                f"- #{c.issue_id} {c.issue.title}: {c.get_target_display().lower()} "
                f"{'target breached' if c.threshold == 100 else f'{c.threshold}% of the target used'}"
                for c in items
            ]
            breached = sum(c.threshold == 100 for c in items)
            subject = (
                f"SLA: {breached} issue(s) breached" if breached else f"SLA: {len(items)} issue(s) at risk"
            )
            send_mail(
                subject=subject,
                message="These issues need attention:\n\n" + "\n".join(lines) + "\n",
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[recipient],
            )
            SlaCrossing.objects.filter(pk__in=[c.pk for c in items]).update(notified_at=timezone.now())
            sent += 1
    return sent


# ---------------------------------------------------------------------------
# Scores (how: analytics/scoring.py)


def _lock(name: str) -> None:
    """Serialise one kind of pass per tenant (an advisory lock held to commit)."""
    key = zlib.crc32(f"{name}:{connection.schema_name}".encode()) & 0x7FFFFFFF
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def scores_compute(*, now: datetime | None = None, publish: bool = True) -> ScoreRun:
    """One computation over the window ending at `now`: the figures and scores of the
    tenant, every area and every category, stored as a run's snapshots (history). The
    tenant's figures are copied to the public leaderboard when `publish` and the tenant
    takes part."""
    now = now or timezone.now()
    settings_row, _ = ScoreSettings.objects.get_or_create(id=1)
    started = clock.perf_counter()
    with transaction.atomic():
        _lock("scores")
        run = ScoreRun.objects.create(
            computed_at=timezone.now(), window_start=now - timedelta(days=settings_row.window_days), window_end=now,
            compliance_weight=settings_row.compliance_weight, min_resolved=settings_row.min_resolved,
        )
        with connection.cursor() as cursor:
            cursor.execute(scoring.SNAPSHOT_SQL, {
                "run": run.pk, "start": run.window_start, "end": now,
                "weight": float(settings_row.compliance_weight), "min_resolved": settings_row.min_resolved,
            })
        run.duration_ms = round((clock.perf_counter() - started) * 1000)
        run.save(update_fields=["duration_ms"])
        whole = ScoreSnapshot.objects.get(run=run, scope=ScoreScope.TENANT)
        if publish and getattr(connection, "tenant", None) is not None:
            leaderboard_record(
                tenant_id=connection.tenant.pk, computed_at=now, window_days=settings_row.window_days,
                reported=whole.reported, resolved=whole.resolved, compliance=whole.compliance,
                median_hours=whole.median_hours, score=whole.score,
            )
    logger.info("scores computed", extra={"run": run.pk, "duration_ms": run.duration_ms})
    return run


def scores_backfill(
    *, days: int, step_hours: int = 24, progress: Callable[[int], None] | None = None, publish: bool = False,
) -> int:
    """Compute runs as of every `step_hours` over the last `days` days, oldest first, so
    trends can be drawn from the start (the open counts of a past moment are those not
    resolved by then). Returns how many runs were stored."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    moments = [now - timedelta(hours=h) for h in range(days * 24, 0, -step_hours)]
    for moment in moments:
        scores_compute(now=moment, publish=publish)
        if progress:
            progress(1)
    return len(moments)


def scores_refresh(*, backfill_days: int = 0, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Scores now, after one run a day over the last `backfill_days` days (so trends have a
    history from the start), then the rules. Returns the runs stored (`backfill_days` + 1,
    each told to `progress`) and the flags raised."""
    runs = scores_backfill(days=backfill_days, progress=progress) if backfill_days else 0
    scores_compute()
    if progress:
        progress(1)
    return runs + 1, rules_evaluate().raised


# ---------------------------------------------------------------------------
# Rules and flags (the rules themselves: the views of migration 0005_rule_views)


def rules_install_defaults() -> int:
    """Install each rule the views know, at version 1 with its default thresholds.
    Idempotent; returns how many were created."""
    existing = set(Rule.objects.values_list("code", flat=True))
    created = 0
    for code, definition in RULE_DEFINITIONS.items():
        if code in existing:
            continue
        params = {name: default for name, (default, _) in definition["params"].items()}
        rule = Rule.objects.create(code=code, description=definition["description"], concern=definition["concern"],
                                   params=params)
        RuleVersion.objects.create(rule=rule, version=1, params=params, weight=rule.weight, active=True)
        created += 1
    return created


@transaction.atomic
def rule_revise(*, rule_id: int, actor: AbstractBaseUser | None = None, **changes: object) -> Rule:
    """Change what a rule checks (params, weight, active) as its next version, kept in
    RuleVersion; flags already raised keep the version that raised them. A description
    alone changes no version."""
    allowed = {"params", "weight", "active", "description"}
    if set(changes) - allowed:
        raise ValidationError(f"Only {', '.join(sorted(allowed))} can change.")
    rule = Rule.objects.select_for_update().get(pk=rule_id)
    before = (rule.params, rule.weight, rule.active)
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.full_clean()
    if (rule.params, rule.weight, rule.active) != before:
        rule.version += 1
        rule.updated_at = timezone.now()
        RuleVersion.objects.create(rule=rule, version=rule.version, params=rule.params, weight=rule.weight,
                                   active=rule.active, created_by=actor)
    rule.save()
    return rule


@dataclass(frozen=True)
class RulesResult:
    raised: int
    kept: int
    cleared: int


def rules_evaluate(*, now: datetime | None = None) -> RulesResult:
    """Evaluate every active rule's view once and reconcile the flags: a subject still
    firing at the same rule version keeps its flag (count refreshed), a new one raises a
    flag, and a flag whose rule no longer fires (or changed version) is cleared."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        _lock("rules")
        cursor.execute(
            "CREATE TEMPORARY TABLE rule_firing ON COMMIT DROP AS "
            "SELECT f.*, r.version, r.params, r.weight FROM analytics_rule_firing f "
            "JOIN analytics_rule r ON r.id = f.rule_id"
        )
        cursor.execute(
            "UPDATE analytics_flag fl SET cleared_at = %(now)s WHERE fl.cleared_at IS NULL AND NOT EXISTS ("
            "  SELECT 1 FROM rule_firing f WHERE f.rule_id = fl.rule_id AND f.subject = fl.subject"
            "  AND f.version = fl.rule_version)",
            {"now": now},
        )
        cleared = cursor.rowcount
        cursor.execute(
            "UPDATE analytics_flag fl SET support = f.support, detail = f.detail, last_seen_at = %(now)s "
            "FROM rule_firing f WHERE fl.cleared_at IS NULL AND f.rule_id = fl.rule_id AND f.subject = fl.subject",
            {"now": now},
        )
        kept = cursor.rowcount
        cursor.execute(
            "INSERT INTO analytics_flag (rule_id, rule_version, params, weight, subject, area_id, category_id, "
            "  issue_id, support, detail, first_seen_at, last_seen_at) "
            "SELECT f.rule_id, f.version, f.params, f.weight, f.subject, f.area_id, f.category_id, f.issue_id, "
            "  f.support, f.detail, %(now)s, %(now)s FROM rule_firing f "
            "WHERE NOT EXISTS (SELECT 1 FROM analytics_flag fl WHERE fl.cleared_at IS NULL "
            "  AND fl.rule_id = f.rule_id AND fl.subject = f.subject)",
            {"now": now},
        )
        raised = cursor.rowcount
        # Dropped now, not only at commit: an enclosing transaction may evaluate again.
        cursor.execute("DROP TABLE rule_firing")
    logger.info("rules evaluated", extra={"raised": raised, "kept": kept, "cleared": cleared})
    return RulesResult(raised, kept, cleared)
