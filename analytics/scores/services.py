"""Writes of scores: one computation stored as a run's snapshots (how:
analytics/scores/sql.py), backfills of past runs, and the refresh that computes scores
and then evaluates the rules."""

import logging
import time as clock
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from analytics.locks import pass_lock
from analytics.rules.services import rules_evaluate
from analytics.scores import sql
from analytics.scores.models import ScoreRun, ScoreScope, ScoreSettings, ScoreSnapshot
from civicpulse.core.tenancy import tenant_connection
from tenants.services import leaderboard_record

logger = logging.getLogger(__name__)


def score_settings_install_default() -> ScoreSettings:
    """The tenant's score settings at their defaults, unless it has them. Idempotent."""
    settings_row, _ = ScoreSettings.objects.get_or_create(id=1)
    return settings_row


def scores_compute(*, now: datetime | None = None, publish: bool = True) -> ScoreRun:
    """One computation over the window ending at `now`: the figures and scores of the
    tenant, every area and every category, stored as a run's snapshots (history). The
    tenant's figures are copied to the public leaderboard when `publish` and the tenant
    takes part."""
    now = now or timezone.now()
    settings_row, _ = ScoreSettings.objects.get_or_create(id=1)
    started = clock.perf_counter()
    with transaction.atomic():
        pass_lock("scores")
        run = ScoreRun.objects.create(
            computed_at=timezone.now(),
            window_start=now - timedelta(days=settings_row.window_days),
            window_end=now,
            compliance_weight=settings_row.compliance_weight,
            min_resolved=settings_row.min_resolved,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SNAPSHOT_SQL,
                {
                    "run": run.pk,
                    "start": run.window_start,
                    "end": now,
                    "weight": float(settings_row.compliance_weight),
                    "min_resolved": settings_row.min_resolved,
                },
            )
        run.duration_ms = round((clock.perf_counter() - started) * 1000)
        run.save(update_fields=["duration_ms"])
        whole = ScoreSnapshot.objects.get(run=run, scope=ScoreScope.TENANT)
        tenant = getattr(tenant_connection(), "tenant", None)
        if publish and tenant is not None:
            leaderboard_record(
                tenant_id=tenant.pk,
                computed_at=now,
                window_days=settings_row.window_days,
                reported=whole.reported,
                resolved=whole.resolved,
                compliance=whole.compliance,
                median_hours=whole.median_hours,
                score=whole.score,
            )
    logger.info("scores computed", extra={"run": run.pk, "duration_ms": run.duration_ms})
    return run


def scores_backfill(
    *,
    days: int,
    step_hours: int = 24,
    progress: Callable[[int], object] | None = None,
    publish: bool = False,
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


def scores_refresh(
    *, backfill_days: int = 0, progress: Callable[[int], object] | None = None
) -> tuple[int, int]:
    """Scores now, after one run a day over the last `backfill_days` days (so trends have a
    history from the start), then the rules. Returns the runs stored (`backfill_days` + 1,
    each told to `progress`) and the flags raised."""
    runs = scores_backfill(days=backfill_days, progress=progress) if backfill_days else 0
    scores_compute()
    if progress:
        progress(1)
    return runs + 1, rules_evaluate().raised
