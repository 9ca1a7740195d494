"""The findings of a location accountability report about a resolved place, every figure
from SQL over the tenant's issues, reports, SLA metrics, flags and scores. The narrative
is written from these findings afterwards (analytics/location_reports/narrative.py);
nothing here asks a language model. How the figures are defined:
docs/location-reports.md."""

from datetime import UTC, datetime

from django.db.models import Aggregate, Count, FloatField, Max, Min, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncMonth

from analytics.location_reports.places import RADIUS_M, Resolution, near_sql
from analytics.rules.models import Flag
from analytics.scores.models import ScoreScope, ScoreSnapshot
from analytics.scores.selectors import score_run_latest
from analytics.sla.models import IssueSla, SlaMetric
from issues.models import OPEN_STATUSES, Area, Issue, IssueStatus
from issues.selectors import area_for_point
from reports.models import ImportBatch, Report

# The findings list this many issues one by one (newest first); the counts cover all.
ISSUE_LIST_LIMIT = 50


class Median(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _place_querysets(resolution: Resolution) -> tuple[QuerySet[Issue], QuerySet[Report]]:
    if resolution.area is not None:
        issues = Issue.objects.filter(area=resolution.area)
        return issues, Report.objects.filter(issue__area=resolution.area)
    # A location has tens or hundreds of rows, found by one scan of each table: their ids
    # are fetched once, so every figure after that is an index lookup, not another scan.
    location = resolution.location
    assert location is not None  # a resolved request names an area or a location
    report_sql, report_params = near_sql(
        "reports_report", lat=location.latitude, lon=location.longitude, radius_m=RADIUS_M
    )
    report_ids = list(
        Report.objects.filter(
            Q(address_key=location.address_key) | Q(pk__in=RawSQL(report_sql, report_params))
        ).values_list("pk", flat=True)
    )
    issue_sql, issue_params = near_sql(
        "issues_issue", lat=location.latitude, lon=location.longitude, radius_m=RADIUS_M
    )
    issue_ids = list(
        Issue.objects.filter(
            Q(pk__in=Report.objects.filter(pk__in=report_ids).exclude(issue=None).values("issue_id"))
            | Q(address_key=location.address_key)
            | Q(pk__in=RawSQL(issue_sql, issue_params))
        ).values_list("pk", flat=True)
    )
    return Issue.objects.filter(pk__in=issue_ids), Report.objects.filter(pk__in=report_ids)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _area_of(resolution: Resolution, issues: QuerySet[Issue]) -> Area | None:
    """The area whose score the report shows: the one asked for; for a location, the area
    whose boundary holds its point, else the area most of its issues are in."""
    if resolution.area is not None:
        return resolution.area
    location = resolution.location
    assert location is not None  # a resolved request names an area or a location
    located = area_for_point(location.latitude, location.longitude)
    if located is not None:
        return located
    top = (
        issues.exclude(area=None)
        .order_by()
        .values("area_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "area_id")
        .first()
    )
    return Area.objects.filter(pk=top["area_id"]).first() if top else None


def _issue_findings(issues: QuerySet[Issue]) -> dict:
    by_status = dict(issues.order_by().values_list("status").annotate(n=Count("pk")))
    categories = (
        issues.order_by().values("category__name").annotate(n=Count("pk")).order_by("-n", "category__name")
    )
    listed = issues.select_related("category").order_by("-created_at", "-id")[:ISSUE_LIST_LIMIT]
    return {
        "total": sum(by_status.values()),
        "open": sum(by_status.get(s, 0) for s in OPEN_STATUSES),
        "resolved": by_status.get(IssueStatus.RESOLVED, 0),
        "closed": by_status.get(IssueStatus.CLOSED, 0),
        "by_status": {s.value: by_status.get(s, 0) for s in IssueStatus},
        "by_category": [
            {"category": c["category__name"] or "Uncategorised", "issues": c["n"]} for c in categories
        ],
        "listed": [
            {
                "id": i.pk,
                "title": i.title,
                "category": i.category.name if i.category else None,
                "status": i.status,
                "severity": i.severity,
                "reports": i.report_count,
                "created": _day(i.created_at),
                "resolved": _day(i.resolved_at),
            }
            for i in listed
        ],
    }


def _timeline(issues: QuerySet[Issue], reports: QuerySet[Report]) -> list[dict]:
    """Per month (UTC): reports submitted and issues created, oldest month first."""
    months: dict[str, dict] = {}
    for row in (
        reports.order_by()
        .annotate(m=TruncMonth("submitted_at", tzinfo=UTC))
        .values("m")
        .annotate(n=Count("pk"))
    ):
        months.setdefault(row["m"].strftime("%Y-%m"), {"reports": 0, "issues": 0})["reports"] = row["n"]
    for row in (
        issues.order_by().annotate(m=TruncMonth("created_at", tzinfo=UTC)).values("m").annotate(n=Count("pk"))
    ):
        months.setdefault(row["m"].strftime("%Y-%m"), {"reports": 0, "issues": 0})["issues"] = row["n"]
    return [{"month": m, **counts} for m, counts in sorted(months.items())]


def _sla_findings(issues: QuerySet[Issue]) -> dict:
    metrics = SlaMetric.objects.filter(issue__in=issues.order_by().values("pk"))
    figures = metrics.aggregate(
        measured=Count("pk"),
        met=Count("pk", filter=Q(resolve_met=True)),
        ack_met=Count("pk", filter=Q(ack_met=True)),
        median_s=Median(
            RawSQL("EXTRACT(EPOCH FROM analytics_slametric.resolved_at - analytics_slametric.created_at)", [])
        ),
    )
    states = dict(
        IssueSla.objects.filter(issue__in=issues.order_by().values("pk"))
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    measured, met = figures["measured"], figures["met"]
    return {
        "resolved_measured": measured,
        "resolve_met": met,
        "resolve_missed": measured - met,
        "resolve_met_percent": _percent(met, measured),
        "acknowledge_met": figures["ack_met"],
        "median_resolve_hours": round(figures["median_s"] / 3600, 1)
        if figures["median_s"] is not None
        else None,
        "open_on_track": states.get("on_track", 0),
        "open_at_risk": states.get("at_risk", 0),
        "open_breached": states.get("breached", 0),
    }


def _flag_findings(issues: QuerySet[Issue], area: Area | None) -> list[dict]:
    """Active flags on the place's issues and on its area: each rule's version and the
    count that made it fire."""
    where = Q(issue__in=issues.order_by().values("pk"))
    if area is not None:
        where |= Q(area=area, issue=None)
    flags = (
        Flag.objects.filter(where, cleared_at=None)
        .select_related("rule")
        .order_by("rule__code", "-support", "id")
    )
    return [
        {
            "rule": f.rule.code,
            "version": f.rule_version,
            "concern": f.rule.get_concern_display(),
            "subject": f.subject,
            "issue": f.issue_id,
            "support": f.support,
            "first_seen": _day(f.first_seen_at),
        }
        for f in flags
    ]


def _score_findings(area: Area | None) -> dict | None:
    if area is None:
        return None
    run = score_run_latest()
    snapshot = (
        ScoreSnapshot.objects.filter(run=run, scope=ScoreScope.AREA, area=area).first()
        if run is not None
        else None
    )
    ranked = (
        ScoreSnapshot.objects.filter(run=run, scope=ScoreScope.AREA).exclude(rank=None).count()
        if snapshot is not None
        else 0
    )
    return {
        "area": area.name,
        "area_code": area.code,
        "computed": _day(run.window_end) if run else None,
        "score": snapshot.score if snapshot else None,
        "rank": snapshot.rank if snapshot else None,
        "ranked_areas": ranked,
        "resolved_in_window": snapshot.resolved if snapshot else None,
        "met_percent": round(100 * snapshot.compliance, 1)
        if snapshot and snapshot.compliance is not None
        else None,
    }


def _freshness(newest_here: datetime | None) -> dict:
    batch = ImportBatch.objects.filter(status=ImportBatch.Status.DONE).order_by("-finished_at", "-id").first()
    newest = Report.objects.aggregate(at=Max("submitted_at"))["at"]
    return {
        "newest_import": None
        if batch is None
        else {
            "id": batch.pk,
            "file": batch.file_name,
            "format": batch.source_format,
            "finished": _iso(batch.finished_at),
            "rows_loaded": batch.rows_loaded,
        },
        "newest_report": _iso(newest),
        "newest_report_here": _iso(newest_here),
    }


def location_findings(resolution: Resolution) -> dict:
    """The findings about a resolved place, as plain JSON values."""
    issues, reports = _place_querysets(resolution)
    span = reports.aggregate(total=Count("pk"), first=Min("submitted_at"), last=Max("submitted_at"))
    area = _area_of(resolution, issues)
    return {
        "issues": _issue_findings(issues),
        "reports": {"total": span["total"], "first": _day(span["first"]), "last": _day(span["last"])},
        "timeline": _timeline(issues, reports),
        "sla": _sla_findings(issues),
        "flags": _flag_findings(issues, area),
        "area_score": _score_findings(area),
        "freshness": _freshness(span["last"]),
    }
