"""Reads of scores: the latest run, a run's snapshots, and trends over time."""

from datetime import date, datetime
from typing import TypeAlias, TypedDict
from zoneinfo import ZoneInfo

from django.db.models import F, QuerySet
from django.db.models.functions import TruncDate
from django_stubs_ext import WithAnnotations

from analytics.scores.models import ScoreRun, ScoreScope, ScoreSnapshot
from tenants.selectors import current_timezone_name


def score_run_latest() -> ScoreRun | None:
    return ScoreRun.objects.order_by("-window_end", "-id").first()


def score_snapshots(*, run: ScoreRun, scope: str) -> list[ScoreSnapshot]:
    """A run's snapshots of one scope, ranked first (best first), then by name."""
    return list(
        ScoreSnapshot.objects.filter(run=run, scope=scope)
        .select_related("area", "category")
        .order_by(F("rank").asc(nulls_last=True), "area__name", "category__name")
    )


class _Day(TypedDict):
    day: date  # the tenant's local day the snapshot was computed in


# A snapshot as score_trend reads it. Quoted: on Python 3.11 the alias cannot be
# subscripted with two arguments at run time.
TrendSnapshot: TypeAlias = "WithAnnotations[ScoreSnapshot, _Day]"


def score_trend(
    *,
    scope: str = ScoreScope.TENANT,
    area_id: int | None = None,
    category_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    daily: bool = True,
) -> QuerySet[TrendSnapshot]:
    """Snapshots of the tenant, one area or one category over time, oldest first, each
    with its `day`; with `daily`, the last of each day (runs are hourly)."""
    rows = ScoreSnapshot.objects.filter(scope=scope)
    if scope == ScoreScope.AREA:
        rows = rows.filter(area=area_id)
    if scope == ScoreScope.CATEGORY:
        rows = rows.filter(category=category_id)
    if since:
        rows = rows.filter(computed_at__gte=since)
    if until:
        rows = rows.filter(computed_at__lt=until)
    # The tenant's days, not UTC's: an evening run belongs to the day it was run in.
    dated = rows.annotate(day=TruncDate("computed_at", tzinfo=ZoneInfo(current_timezone_name())))
    if daily:
        return dated.order_by("day", "-computed_at").distinct("day")
    return dated.order_by("computed_at", "id")
