"""Reads of SLA configuration, state and metrics; of scores, flags and the dashboards."""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Case, Count, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate, TruncWeek

from analytics import sla
from analytics.models import (
    Flag,
    IssuePause,
    IssueSla,
    LocationReport,
    ScoreRun,
    ScoreScope,
    ScoreSnapshot,
    SlaMetric,
    SlaPolicy,
)
from issues.models import OPEN_STATUSES, Area, Issue, IssueStatus
from tenants.selectors import current_timezone_name


def working_seconds(*, start: datetime, end: datetime) -> float:
    """Business seconds between two moments, by the tenant's materialised calendar."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sla.business_seconds_sql('%(a)s', '%(b)s')}", {"a": start, "b": end})
        return cursor.fetchone()[0]


def working_deadline(*, start: datetime, hours: float) -> datetime | None:
    """The moment `hours` business hours after `start` (None beyond the calendar's horizon)."""
    clock = "'business'"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sla.inv(sla.cum('%(a)s', clock) + ' + %(s)s', clock)}", {"a": start, "s": hours * 3600})
        return cursor.fetchone()[0]


def sla_policies_current() -> QuerySet[SlaPolicy]:
    return SlaPolicy.objects.filter(superseded_at=None).select_related("category")


def issue_sla(*, issue_id: int) -> IssueSla | None:
    return IssueSla.objects.select_related("policy", "policy__category").filter(issue_id=issue_id).first()


def issue_paused_seconds(*, issue: Issue, now: datetime) -> float:
    """Wall-clock time the issue has spent paused (the staff page shows it as it is;
    the SLA figures count it on the policy's clock)."""
    total = IssuePause.objects.filter(issue=issue).aggregate(
        t=Sum(Coalesce("ended_at", Value(now)) - F("started_at"))
    )["t"]
    return total.total_seconds() if total else 0.0


def sla_metrics(*, since: date | None = None, until: date | None = None, category: str | None = None) -> QuerySet[SlaMetric]:
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
        .annotate(met=Count("pk", filter=Q(resolve_met=True)), missed=Count("pk", filter=Q(resolve_met=False)))
        .order_by("category__name")
    )


# ---------------------------------------------------------------------------
# Scores, flags and dashboards


def score_run_latest() -> ScoreRun | None:
    return ScoreRun.objects.order_by("-window_end", "-id").first()


def score_snapshots(*, run: ScoreRun, scope: str) -> list[ScoreSnapshot]:
    """A run's snapshots of one scope, ranked first (best first), then by name."""
    return list(
        ScoreSnapshot.objects.filter(run=run, scope=scope).select_related("area", "category")
        .order_by(F("rank").asc(nulls_last=True), "area__name", "category__name")
    )


def score_trend(
    *, scope: str = ScoreScope.TENANT, area_id: int | None = None, category_id: int | None = None,
    since: datetime | None = None, until: datetime | None = None, daily: bool = True,
) -> QuerySet[ScoreSnapshot]:
    """Snapshots of the tenant, one area or one category over time, oldest first; with
    `daily`, the last of each day (runs are hourly)."""
    rows = ScoreSnapshot.objects.filter(scope=scope)
    if scope == ScoreScope.AREA:
        rows = rows.filter(area_id=area_id)
    if scope == ScoreScope.CATEGORY:
        rows = rows.filter(category_id=category_id)
    if since:
        rows = rows.filter(computed_at__gte=since)
    if until:
        rows = rows.filter(computed_at__lt=until)
    if daily:
        # The tenant's days, not UTC's: an evening run belongs to the day it was run in.
        day = TruncDate("computed_at", tzinfo=ZoneInfo(current_timezone_name()))
        return rows.annotate(day=day).order_by("day", "-computed_at").distinct("day")
    return rows.order_by("computed_at", "id")


def flags_active(*, area_id: int | None = None, category_id: int | None = None) -> QuerySet[Flag]:
    flags = Flag.objects.filter(cleared_at=None).select_related(
        "rule", "area", "category", "issue", "issue__area", "issue__category")
    if area_id:
        flags = flags.filter(Q(area_id=area_id) | Q(issue__area_id=area_id))
    if category_id:
        flags = flags.filter(Q(category_id=category_id) | Q(issue__category_id=category_id))
    return flags.order_by("rule__code", "-support", "id")


@dataclass
class Table:
    """What a dashboard shows as a table, and downloads as CSV: the same rows for both."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)


AGE_BANDS: list[tuple[str, int | None]] = [("under 1 day", 1), ("1–7 days", 7), ("7–30 days", 30), ("over 30 days", None)]


def _issues(*, area_id: int | None, category_id: int | None) -> QuerySet[Issue]:
    issues = Issue.objects.all()
    if area_id:
        issues = issues.filter(area_id=area_id)
    if category_id:
        issues = issues.filter(category_id=category_id)
    return issues


def dashboard_backlog(*, now: datetime, area_id: int | None = None, category_id: int | None = None) -> Table:
    """Open issues by status and age band, in one grouped query."""
    # Youngest band first: the first matching When wins; the oldest band is the default.
    whens = [When(created_at__gt=now - timedelta(days=days), then=Value(label)) for label, days in AGE_BANDS if days]
    oldest = AGE_BANDS[-1][0]
    counts = (
        _issues(area_id=area_id, category_id=category_id).filter(status__in=OPEN_STATUSES).order_by()
        .annotate(band=Case(*whens, default=Value(oldest))).values("status", "band").annotate(n=Count("id"))
    )
    by = {(r["status"], r["band"]): r["n"] for r in counts}
    table = Table("backlog", "Open issues by status and age", ["Status", *[b for b, _ in AGE_BANDS], "Total"])
    for status in OPEN_STATUSES:
        values = [by.get((status, band), 0) for band, _ in AGE_BANDS]
        table.rows.append([IssueStatus(status).label, *values, sum(values)])
    return table


def dashboard_compliance_trend(
    *, since: datetime, until: datetime, area_id: int | None = None, category_id: int | None = None,
) -> Table:
    """Issues resolved per week and the share that met its resolution target."""
    metrics = SlaMetric.objects.filter(resolved_at__gte=since, resolved_at__lt=until)
    if area_id:
        metrics = metrics.filter(issue__area_id=area_id)
    if category_id:
        metrics = metrics.filter(issue__category_id=category_id)
    weeks = (
        # Weeks start on the tenant's Monday, not UTC's.
        metrics.order_by().annotate(week=TruncWeek("resolved_at", tzinfo=ZoneInfo(current_timezone_name())))
        .values("week")
        .annotate(resolved=Count("pk"), met=Count("pk", filter=Q(resolve_met=True))).order_by("week")
    )
    table = Table("trend", "SLA compliance per week", ["Week of", "Resolved", "Met target", "Compliance"])
    for row in weeks:
        table.rows.append([row["week"].date().isoformat(), row["resolved"], row["met"],
                           round(row["met"] / row["resolved"], 3) if row["resolved"] else None])
    return table


def dashboard_breaches(
    *, by: str, since: datetime, until: datetime, area_id: int | None = None, category_id: int | None = None,
) -> Table:
    """Per category (by="category") or area: resolved issues that missed their target in
    the period and open issues breached now."""
    field_name = "category__name" if by == "category" else "area__name"
    missed = SlaMetric.objects.filter(resolved_at__gte=since, resolved_at__lt=until, resolve_met=False)
    open_breached = IssueSla.objects.filter(state="breached")
    if area_id:
        missed, open_breached = missed.filter(issue__area_id=area_id), open_breached.filter(issue__area_id=area_id)
    if category_id:
        missed = missed.filter(issue__category_id=category_id)
        open_breached = open_breached.filter(issue__category_id=category_id)
    totals: dict[str, list[int]] = {}
    for row in missed.order_by().values(f"issue__{field_name}").annotate(n=Count("pk")):
        totals.setdefault(row[f"issue__{field_name}"] or "None", [0, 0])[0] = row["n"]
    for row in open_breached.order_by().values(f"issue__{field_name}").annotate(n=Count("pk")):
        totals.setdefault(row[f"issue__{field_name}"] or "None", [0, 0])[1] = row["n"]
    label = "Category" if by == "category" else "Area"
    table = Table(f"breaches_{by}", f"Breaches by {label.lower()}", [label, "Resolved late", "Open and breached now"])
    for name, (late, now_breached) in sorted(totals.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        table.rows.append([name, late, now_breached])
    return table


def dashboard_flags(*, area_id: int | None = None, category_id: int | None = None, limit: int = 200) -> Table:
    table = Table("flags", "Active flags", ["Rule", "Version", "Subject", "Area", "Category", "Count", "Weight",
                                            "First seen", "Last seen"])
    for flag in flags_active(area_id=area_id, category_id=category_id)[:limit]:
        area = flag.area or (flag.issue.area if flag.issue_id and flag.issue else None)
        category = flag.category or (flag.issue.category if flag.issue_id and flag.issue else None)
        table.rows.append([flag.rule.code, flag.rule_version, flag.subject, str(area or ""), str(category or ""),
                           flag.support, flag.weight, flag.first_seen_at.isoformat(timespec="minutes"),
                           flag.last_seen_at.isoformat(timespec="minutes")])
    return table


def dashboard_concern_by_area(*, area_id: int | None = None, category_id: int | None = None) -> Table:
    """Active flags weighed together per area (a flag on an issue counts for the issue's
    area): the sum of their rules' weights, heaviest first. Re-weighting a rule in the
    admin changes what its new flags add here."""
    table = Table("concern", "Weighted concern by area", ["Area", "Active flags", "Weighted concern"])
    rows = (
        flags_active(area_id=area_id, category_id=category_id).order_by()
        .annotate(place=Coalesce("area__name", "issue__area__name", Value("Not tied to an area")))
        .values("place").annotate(n=Count("id"), weighed=Sum("weight"))
    )
    for row in sorted(rows, key=lambda r: (-r["weighed"], r["place"])):
        table.rows.append([row["place"], row["n"], round(row["weighed"], 2)])
    return table


def flags_count_by_rule(*, area_id: int | None = None, category_id: int | None = None) -> list[tuple[str, int]]:
    rows = flags_active(area_id=area_id, category_id=category_id).order_by().values("rule__code").annotate(n=Count("id"))
    return sorted(((r["rule__code"], r["n"]) for r in rows), key=lambda r: r[0])


def dashboard_open_points(*, area_id: int | None = None, category_id: int | None = None, limit: int = 3000) -> Table:
    """The newest open issues with a location (the map draws these)."""
    table = Table("map", "Open issues on the map", ["Issue", "Latitude", "Longitude", "Status", "Category"])
    rows = (
        _issues(area_id=area_id, category_id=category_id)
        .filter(status__in=OPEN_STATUSES, latitude__isnull=False, longitude__isnull=False)
        .order_by("-created_at").values_list("id", "latitude", "longitude", "status", "category__name")[:limit]
    )
    table.rows = [[f"#{i}", round(lat, 6), round(lon, 6), status, cat or ""] for i, lat, lon, status, cat in rows]
    return table


def area_boundaries(*, area_id: int | None = None) -> list[tuple[str, dict]]:
    areas = Area.objects.exclude(boundary=None)
    if area_id:
        areas = areas.filter(pk=area_id)
    return [(a.name, a.boundary) for a in areas.only("name", "boundary")]


def location_report_by_id(*, report_id: int) -> LocationReport | None:
    return LocationReport.objects.filter(pk=report_id).first()
