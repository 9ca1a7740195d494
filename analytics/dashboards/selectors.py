"""Reads behind the dashboards: each figure as a table (the same rows are charted, shown
and downloaded as CSV), in a few grouped queries however many issues the tenant has."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncWeek

from analytics.rules.selectors import flags_active
from analytics.sla.models import IssueSla, SlaMetric
from issues.models import OPEN_STATUSES, Area, Issue, IssueStatus
from tenants.selectors import current_timezone_name


@dataclass
class Table:
    """What a dashboard shows as a table, and downloads as CSV: the same rows for both."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)  # cells: text, counts, shares, dates


AGE_BANDS: list[tuple[str, int | None]] = [
    ("under 1 day", 1),
    ("1–7 days", 7),
    ("7–30 days", 30),
    ("over 30 days", None),
]


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
    whens = [
        When(created_at__gt=now - timedelta(days=days), then=Value(label))
        for label, days in AGE_BANDS
        if days
    ]
    oldest = AGE_BANDS[-1][0]
    counts = (
        _issues(area_id=area_id, category_id=category_id)
        .filter(status__in=OPEN_STATUSES)
        .order_by()
        .annotate(band=Case(*whens, default=Value(oldest)))
        .values("status", "band")
        .annotate(n=Count("id"))
    )
    by = {(r["status"], r["band"]): r["n"] for r in counts}
    table = Table("backlog", "Open issues by status and age", ["Status", *[b for b, _ in AGE_BANDS], "Total"])
    for status in OPEN_STATUSES:
        values = [by.get((status, band), 0) for band, _ in AGE_BANDS]
        table.rows.append([IssueStatus(status).label, *values, sum(values)])
    return table


def dashboard_compliance_trend(
    *,
    since: datetime,
    until: datetime,
    area_id: int | None = None,
    category_id: int | None = None,
) -> Table:
    """Issues resolved per week and the share that met its resolution target."""
    metrics = SlaMetric.objects.filter(resolved_at__gte=since, resolved_at__lt=until)
    if area_id:
        metrics = metrics.filter(issue__area_id=area_id)
    if category_id:
        metrics = metrics.filter(issue__category_id=category_id)
    weeks = (
        # Weeks start on the tenant's Monday, not UTC's.
        metrics.order_by()
        .annotate(week=TruncWeek("resolved_at", tzinfo=ZoneInfo(current_timezone_name())))
        .values("week")
        .annotate(resolved=Count("pk"), met=Count("pk", filter=Q(resolve_met=True)))
        .order_by("week")
    )
    table = Table("trend", "SLA compliance per week", ["Week of", "Resolved", "Met target", "Compliance"])
    for row in weeks:
        table.rows.append(
            [
                row["week"].date().isoformat(),
                row["resolved"],
                row["met"],
                round(row["met"] / row["resolved"], 3) if row["resolved"] else None,
            ]
        )
    return table


def dashboard_breaches(
    *,
    by: str,
    since: datetime,
    until: datetime,
    area_id: int | None = None,
    category_id: int | None = None,
) -> Table:
    """Per category (by="category") or area: resolved issues that missed their target in
    the period and open issues breached now."""
    field_name = "category__name" if by == "category" else "area__name"
    missed = SlaMetric.objects.filter(resolved_at__gte=since, resolved_at__lt=until, resolve_met=False)
    open_breached = IssueSla.objects.filter(state="breached")
    if area_id:
        missed, open_breached = (
            missed.filter(issue__area_id=area_id),
            open_breached.filter(issue__area_id=area_id),
        )
    if category_id:
        missed = missed.filter(issue__category_id=category_id)
        open_breached = open_breached.filter(issue__category_id=category_id)
    totals: dict[str, list[int]] = {}
    for row in missed.order_by().values(f"issue__{field_name}").annotate(n=Count("pk")):
        totals.setdefault(row[f"issue__{field_name}"] or "None", [0, 0])[0] = row["n"]
    for row in open_breached.order_by().values(f"issue__{field_name}").annotate(n=Count("pk")):
        totals.setdefault(row[f"issue__{field_name}"] or "None", [0, 0])[1] = row["n"]
    label = "Category" if by == "category" else "Area"
    table = Table(
        f"breaches_{by}", f"Breaches by {label.lower()}", [label, "Resolved late", "Open and breached now"]
    )
    for name, (late, now_breached) in sorted(totals.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        table.rows.append([name, late, now_breached])
    return table


def dashboard_flags(*, area_id: int | None = None, category_id: int | None = None, limit: int = 200) -> Table:
    table = Table(
        "flags",
        "Active flags",
        ["Rule", "Version", "Subject", "Area", "Category", "Count", "Weight", "First seen", "Last seen"],
    )
    for flag in flags_active(area_id=area_id, category_id=category_id)[:limit]:
        area = flag.area or (flag.issue.area if flag.issue_id and flag.issue else None)
        category = flag.category or (flag.issue.category if flag.issue_id and flag.issue else None)
        table.rows.append(
            [
                flag.rule.code,
                flag.rule_version,
                flag.subject,
                str(area or ""),
                str(category or ""),
                flag.support,
                flag.weight,
                flag.first_seen_at.isoformat(timespec="minutes"),
                flag.last_seen_at.isoformat(timespec="minutes"),
            ]
        )
    return table


def dashboard_concern_by_area(*, area_id: int | None = None, category_id: int | None = None) -> Table:
    """Active flags weighed together per area (a flag on an issue counts for the issue's
    area): the sum of their rules' weights, heaviest first. Re-weighting a rule in the
    admin changes what its new flags add here."""
    table = Table("concern", "Weighted concern by area", ["Area", "Active flags", "Weighted concern"])
    rows = (
        flags_active(area_id=area_id, category_id=category_id)
        .order_by()
        .annotate(place=Coalesce("area__name", "issue__area__name", Value("Not tied to an area")))
        .values("place")
        .annotate(n=Count("id"), weighed=Sum("weight"))
    )
    for row in sorted(rows, key=lambda r: (-r["weighed"], r["place"])):
        table.rows.append([row["place"], row["n"], round(row["weighed"], 2)])
    return table


def dashboard_open_points(
    *, area_id: int | None = None, category_id: int | None = None, limit: int = 3000
) -> Table:
    """The newest open issues with a location (the map draws these)."""
    table = Table("map", "Open issues on the map", ["Issue", "Latitude", "Longitude", "Status", "Category"])
    rows = (
        _issues(area_id=area_id, category_id=category_id)
        .filter(status__in=OPEN_STATUSES, latitude__isnull=False, longitude__isnull=False)
        .order_by("-created_at")
        .values_list("id", "latitude", "longitude", "status", "category__name")[:limit]
    )
    # The query has left out issues without a point; the check says so to the type checker.
    table.rows = [
        [f"#{i}", round(lat, 6), round(lon, 6), status, cat or ""]
        for i, lat, lon, status, cat in rows
        if lat is not None and lon is not None
    ]
    return table


def area_boundaries(*, area_id: int | None = None) -> list[tuple[str, dict]]:
    areas = Area.objects.exclude(boundary=None)
    if area_id:
        areas = areas.filter(pk=area_id)
    # The query has left out areas without a boundary; the check says so to the type checker.
    return [(a.name, a.boundary) for a in areas.only("name", "boundary") if a.boundary is not None]
