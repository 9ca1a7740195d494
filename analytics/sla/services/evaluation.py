"""The SLA evaluation pass and the metrics of resolved issues: set-based statements
(analytics/sla/sql.py), one pass per tenant at a time."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from analytics.locks import pass_lock
from analytics.sla import sql
from analytics.sla.models import SlaMetric
from analytics.sla.services.calendar import calendar_ensure
from analytics.sla.services.notifications import sla_notifications_queue
from issues.models import FINISHED_STATUSES, Issue
from issues.statuses import FINISHED_STATUSES_SQL, OPEN_STATUSES_SQL
from tenants.selectors import tenant_days_bounds

logger = logging.getLogger(__name__)


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
        pass_lock("sla")  # one pass per tenant at a time: two would race on the same crossings
        # The calendar must reach back to every issue measured: open ones and those
        # resolved since the last pass, which may be older than any open one.
        calendar_ensure(since=Issue.objects.aggregate(at=Min("created_at"))["at"])
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM analytics_issuesla s USING issues_issue i "
                f"WHERE i.id = s.issue_id AND i.status NOT IN {OPEN_STATUSES_SQL}"
            )
            # One long statement: compiling it (JIT) costs more than it saves.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(sql.evaluate_sql(), {"now": now})
            evaluated, crossings, to_notify, _ = cursor.fetchone()
        metrics = _metrics_since_last_pass(now=now)
        if to_notify:
            transaction.on_commit(sla_notifications_queue)
    logger.info(
        "sla evaluated", extra={"evaluated": evaluated, "crossings": crossings, "to_notify": to_notify}
    )
    return EvaluationResult(evaluated, crossings, to_notify, metrics)


def _metrics_since_last_pass(*, now: datetime) -> int:
    """Metrics for issues resolved since the newest metric (less an hour, for issues
    resolved with a back-dated time), and removal of those reopened since."""
    newest = SlaMetric.objects.aggregate(at=Max("computed_at"))["at"]
    _metrics_of_reopened_delete()
    issues = Issue.objects.filter(status__in=FINISHED_STATUSES, resolved_at__isnull=False)
    if newest is not None:
        # Resolution stamps `updated_at`; an hour of overlap covers back-dated resolutions.
        issues = issues.filter(updated_at__gte=newest - timedelta(hours=1))
    bounds = issues.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return 0
    return sla_metrics_compute(
        lo=bounds["lo"],
        hi=bounds["hi"] + 1,
        now=now,
        changed_since=newest - timedelta(hours=1) if newest else None,
    )


def _metrics_of_reopened_delete() -> None:
    """Metrics of issues reopened since they were measured are no longer true."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM analytics_slametric s USING issues_issue i "
            f"WHERE i.id = s.issue_id AND (i.status NOT IN {FINISHED_STATUSES_SQL} OR i.resolved_at IS NULL)"
        )


def sla_metrics_compute(
    *,
    lo: int,
    hi: int,
    now: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    changed_since: datetime | None = None,
) -> int:
    """Compute (or recompute) the metrics of resolved issues with id in [lo, hi),
    resolved in [since, until) and changed since `changed_since`, when given."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # compiling each chunk's statement costs more than it saves
        cursor.execute(
            sql.metrics_sql(),
            {"lo": lo, "hi": hi, "now": now, "since": since, "until": until, "changed_since": changed_since},
        )
        return cursor.rowcount


def sla_metrics_recompute(
    *,
    since: date | None = None,
    until: date | None = None,
    chunk: int = 50_000,
    progress: Callable[[int], object] | None = None,
    total: Callable[[int], object] | None = None,
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
