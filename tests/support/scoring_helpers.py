"""Building resolved issues with their SLA metric directly, so a test states exactly how
much of its target each fix used and whether it met it."""

from datetime import datetime, timedelta

from django.utils import timezone

from analytics.sla.models import SlaMetric, SlaPolicy
from issues.models import Area, Category, Issue, IssueStatus
from tests.support.factories import IssueFactory

TARGET_S = 24 * 3600.0


def resolved_issue(
    *,
    area: Area | None = None,
    category: Category | None = None,
    used: float = 0.5,
    hours: float = 10,
    resolved_ago: timedelta = timedelta(days=2),
    now: datetime | None = None,
    **extra: object,
) -> Issue:
    """An issue resolved `resolved_ago` before now, `hours` after it was created, having
    used `used` of a 24-hour resolution target (met when used <= 1)."""
    now = now or timezone.now()
    resolved_at = now - resolved_ago
    created_at = resolved_at - timedelta(hours=hours)
    issue = IssueFactory(
        area=area,
        category=category,
        status=IssueStatus.RESOLVED,
        created_at=created_at,
        resolved_at=resolved_at,
        **extra,
    )
    SlaMetric.objects.create(
        issue=issue,
        policy=SlaPolicy.objects.filter(superseded_at=None).first(),
        clock="calendar",
        category=category,
        severity=issue.severity,
        created_at=created_at,
        resolved_at=resolved_at,
        ack_seconds=60,
        resolve_seconds=used * TARGET_S,
        ack_target_seconds=3600,
        resolve_target_seconds=TARGET_S,
        ack_met=True,
        resolve_met=used <= 1,
        paused_seconds=0,
        computed_at=now,
    )
    return issue
