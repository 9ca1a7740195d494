"""Reads of SLA configuration, working time, the state of open issues and the metrics of
resolved ones."""

from datetime import date, datetime

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from analytics.sla import sql
from analytics.sla.models import IssuePause, IssueSla, SlaMetric, SlaPolicy
from issues.models import Issue


def working_seconds(*, start: datetime, end: datetime) -> float:
    """Business seconds between two moments, by the tenant's materialised calendar."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql.business_seconds_sql('%(a)s', '%(b)s')}", {"a": start, "b": end})
        return cursor.fetchone()[0]


def working_deadline(*, start: datetime, hours: float) -> datetime | None:
    """The moment `hours` business hours after `start` (None beyond the calendar's horizon)."""
    clock = "'business'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql.inv(sql.cum('%(a)s', clock) + ' + %(s)s', clock)}", {"a": start, "s": hours * 3600}
        )
        return cursor.fetchone()[0]


def sla_policies_current() -> QuerySet[SlaPolicy]:
    return SlaPolicy.objects.filter(superseded_at=None).select_related("category")


def issue_sla(*, issue_id: int) -> IssueSla | None:
    return IssueSla.objects.select_related("policy", "policy__category").filter(issue_id=issue_id).first()


def issue_metric(*, issue_id: int) -> SlaMetric | None:
    return SlaMetric.objects.select_related("policy", "category").filter(issue_id=issue_id).first()


def issue_paused_seconds(*, issue: Issue, now: datetime) -> float:
    """Wall-clock time the issue has spent paused (the staff page shows it as it is;
    the SLA figures count it on the policy's clock)."""
    total = IssuePause.objects.filter(issue=issue).aggregate(
        t=Sum(Coalesce("ended_at", Value(now)) - F("started_at"))
    )["t"]
    return total.total_seconds() if total else 0.0


def sla_metrics(
    *, since: date | None = None, until: date | None = None, category: str | None = None
) -> QuerySet[SlaMetric]:
    metrics = SlaMetric.objects.select_related("policy", "category").order_by("-resolved_at", "-issue_id")
    if since:
        metrics = metrics.filter(resolved_at__date__gte=since)
    if until:
        metrics = metrics.filter(resolved_at__date__lte=until)
    if category:
        metrics = metrics.filter(category__code=category)
    return metrics


def sla_met_share_by_category(metrics: QuerySet[SlaMetric]) -> list[dict]:
    """Per category: how many resolved issues met and missed their resolution target."""
    return list(
        metrics.order_by()
        .values("category__name")
        .annotate(
            met=Count("pk", filter=Q(resolve_met=True)), missed=Count("pk", filter=Q(resolve_met=False))
        )
        .order_by("category__name")
    )
