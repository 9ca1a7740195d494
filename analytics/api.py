"""The analytics API (scope `read`): current SLA policies, one issue's SLA, resolved
issues' metrics; scores, their trends and rankings, and the rules' flags; location
accountability reports (generated, fetched again, and as PDF)."""
import json
from datetime import date

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.location_report_pdf import location_report_pdf_response
from analytics.models import Flag, LocationReport, ScoreRun, ScoreScope, ScoreSnapshot, SlaMetric, SlaPolicy
from analytics.selectors import (
    issue_paused_seconds,
    issue_sla,
    location_report_by_id,
    score_run_latest,
    score_snapshots,
    score_trend,
    sla_metrics,
    sla_policies_current,
)
from analytics.location_report_services import location_report_create
from issues.models import Area, Category, Issue
from tenants.selectors import tenant_days_bounds


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 3)


def policy_body(policy: SlaPolicy) -> dict:
    return {
        "id": policy.pk,
        "category": policy.category.code if policy.category_id else None,
        "severity": policy.severity,
        "acknowledge_hours": float(policy.acknowledge_hours),
        "resolve_hours": float(policy.resolve_hours),
        "clock": policy.clock,
        "version": policy.version,
        "effective_from": policy.effective_from.isoformat() if policy.effective_from else None,
        "superseded_at": policy.superseded_at.isoformat() if policy.superseded_at else None,
    }


def metric_body(metric: SlaMetric) -> dict:
    return {
        "issue": metric.issue_id,
        "category": metric.category.code if metric.category_id else None,
        "severity": metric.severity,
        "created_at": metric.created_at.isoformat(),
        "resolved_at": metric.resolved_at.isoformat(),
        "clock": metric.clock,
        "acknowledge_hours": _hours(metric.ack_seconds),
        "resolve_hours": _hours(metric.resolve_seconds),
        "acknowledge_target_hours": _hours(metric.ack_target_seconds),
        "resolve_target_hours": _hours(metric.resolve_target_seconds),
        "acknowledge_met": metric.ack_met,
        "resolve_met": metric.resolve_met,
        "paused_hours": _hours(metric.paused_seconds),
        "policy": {"id": metric.policy_id, "version": metric.policy.version},
    }


# The bodies above, for the OpenAPI schema.
PolicySerializer = inline_serializer(name="SlaPolicy", fields={
    "id": serializers.IntegerField(),
    "category": serializers.CharField(allow_null=True),
    "severity": serializers.CharField(allow_null=True),
    "acknowledge_hours": serializers.FloatField(),
    "resolve_hours": serializers.FloatField(),
    "clock": serializers.CharField(),
    "version": serializers.IntegerField(),
    "effective_from": serializers.DateTimeField(allow_null=True),
    "superseded_at": serializers.DateTimeField(allow_null=True),
})
MetricSerializer = inline_serializer(name="SlaMetric", fields={
    "issue": serializers.IntegerField(),
    "category": serializers.CharField(allow_null=True),
    "severity": serializers.CharField(allow_null=True),
    "created_at": serializers.DateTimeField(),
    "resolved_at": serializers.DateTimeField(),
    "clock": serializers.CharField(),
    **{name: serializers.FloatField(allow_null=True) for name in (
        "acknowledge_hours", "resolve_hours", "acknowledge_target_hours", "resolve_target_hours", "paused_hours")},
    "acknowledge_met": serializers.BooleanField(allow_null=True),
    "resolve_met": serializers.BooleanField(allow_null=True),
    "policy": inline_serializer(name="SlaMetricPolicy", fields={
        "id": serializers.IntegerField(), "version": serializers.IntegerField()}),
})
IssueSlaSerializer = inline_serializer(name="IssueSla", fields={
    "issue": serializers.IntegerField(),
    "status": serializers.CharField(),
    "paused_hours": serializers.FloatField(allow_null=True),
    "state": serializers.CharField(allow_null=True, help_text="on_track, at_risk, breached, ...; met or missed once resolved"),
    "paused": serializers.BooleanField(),
    "acknowledge_due_at": serializers.DateTimeField(allow_null=True, required=False),
    "resolve_due_at": serializers.DateTimeField(allow_null=True, required=False),
    "time_left_hours": serializers.FloatField(allow_null=True, required=False),
    "acknowledge_used": serializers.FloatField(required=False),
    "resolve_used": serializers.FloatField(required=False),
    "evaluated_at": serializers.DateTimeField(required=False),
    "policy": PolicySerializer.__class__(allow_null=True),
    "metric": MetricSerializer.__class__(allow_null=True),
})


class SlaPolicyList(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(responses=inline_serializer(name="SlaPolicies", fields={"results": PolicySerializer.__class__(many=True)}))
    def get(self, request: Request) -> Response:
        return Response({"results": [policy_body(p) for p in sla_policies_current()]})


class IssueSlaDetail(APIView):
    """An open issue's state as of the last evaluation pass; a resolved one's metric."""

    required_scopes = {"GET": "read"}

    @extend_schema(responses=IssueSlaSerializer)
    def get(self, request: Request, issue_id: int) -> Response:
        issue = Issue.objects.filter(pk=issue_id).first()
        if issue is None:
            raise Http404
        now = timezone.now()
        body: dict = {"issue": issue.pk, "status": issue.status,
                      "paused_hours": _hours(issue_paused_seconds(issue=issue, now=now))}
        sla = issue_sla(issue_id=issue.pk)
        if sla is not None:
            body |= {
                "state": sla.state,
                "paused": sla.paused,
                "acknowledge_due_at": sla.ack_due_at.isoformat() if sla.ack_due_at else None,
                "resolve_due_at": sla.resolve_due_at.isoformat() if sla.resolve_due_at else None,
                "time_left_hours": _hours((sla.next_due_at - now).total_seconds()) if sla.next_due_at else None,
                "acknowledge_used": round(sla.ack_used, 4),
                "resolve_used": round(sla.resolve_used, 4),
                "evaluated_at": sla.evaluated_at.isoformat(),
                "policy": policy_body(sla.policy),
                "metric": None,
            }
        elif (metric := SlaMetric.objects.select_related("policy", "category").filter(issue_id=issue.pk).first()):
            body |= {"state": "met" if metric.resolve_met else "missed", "paused": False,
                     "policy": policy_body(metric.policy), "metric": metric_body(metric)}
        else:
            body |= {"state": None, "paused": False, "policy": None, "metric": None}
        return Response(body)


class MetricPages(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class MetricFilters(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    category = serializers.CharField(required=False, max_length=50)

    def validate(self, attrs: dict) -> dict:
        since: date | None = attrs.get("since")
        until: date | None = attrs.get("until")
        if since and until and since > until:
            raise serializers.ValidationError({"since": ["Comes after until."]})
        return attrs


def _page_of(name: str, item: serializers.Serializer) -> serializers.Serializer:
    """The schema of one page of `item`s, as MetricPages answers."""
    return inline_serializer(name=name, fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": item.__class__(many=True),
    })


class SlaMetricList(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(parameters=[MetricFilters], responses=_page_of("SlaMetricPage", MetricSerializer))
    def get(self, request: Request) -> Response:
        filters = MetricFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = MetricPages()
        page = paginator.paginate_queryset(sla_metrics(**filters.validated_data), request, view=self)
        return paginator.get_paginated_response([metric_body(m) for m in page])


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def snapshot_body(snapshot: ScoreSnapshot) -> dict:
    return {
        "scope": snapshot.scope,
        "area": snapshot.area.code if snapshot.area_id else None,
        "category": snapshot.category.code if snapshot.category_id else None,
        "computed_at": snapshot.computed_at.isoformat(),
        "reported": snapshot.reported,
        "resolved": snapshot.resolved,
        "met": snapshot.met,
        "open": snapshot.open_count,
        "compliance": _round(snapshot.compliance),
        "median_resolve_hours": _round(snapshot.median_hours, 2),
        "p90_resolve_hours": _round(snapshot.p90_hours, 2),
        "backlog_median_age_hours": _round(snapshot.backlog_median_hours, 2),
        "backlog_max_age_hours": _round(snapshot.backlog_max_hours, 2),
        "speed": _round(snapshot.speed),
        "score": snapshot.score,
        "rank": snapshot.rank,
    }


def _latest_run() -> ScoreRun:
    run = score_run_latest()
    if run is None:
        raise Http404("No scores have been computed yet.")
    return run


# The bodies above, for the OpenAPI schema.
SnapshotSerializer = inline_serializer(name="ScoreSnapshot", fields={
    "scope": serializers.ChoiceField(choices=ScoreScope.choices),
    "area": serializers.CharField(allow_null=True),
    "category": serializers.CharField(allow_null=True),
    "computed_at": serializers.DateTimeField(),
    **{name: serializers.IntegerField() for name in ("reported", "resolved", "met", "open")},
    **{name: serializers.FloatField(allow_null=True) for name in (
        "compliance", "median_resolve_hours", "p90_resolve_hours", "backlog_median_age_hours",
        "backlog_max_age_hours", "speed")},
    "score": serializers.FloatField(allow_null=True, help_text="0 to 100; null below the minimum of resolved issues"),
    "rank": serializers.IntegerField(allow_null=True),
})
FlagSerializer = inline_serializer(name="Flag", fields={
    "id": serializers.IntegerField(),
    "rule": serializers.CharField(),
    "rule_version": serializers.IntegerField(),
    "concern": serializers.CharField(),
    "params": serializers.DictField(),
    "weight": serializers.FloatField(),
    "subject": serializers.CharField(help_text="issue:<id>, area:<id>, area:none or category:<id>"),
    "area": serializers.CharField(allow_null=True),
    "category": serializers.CharField(allow_null=True),
    "issue": serializers.IntegerField(allow_null=True),
    "count": serializers.IntegerField(),
    "detail": serializers.DictField(),
    "first_seen_at": serializers.DateTimeField(),
    "last_seen_at": serializers.DateTimeField(),
    "cleared_at": serializers.DateTimeField(allow_null=True),
})


class ScoreLatest(APIView):
    """The latest run: the tenant's figures, every area's and every category's."""

    required_scopes = {"GET": "read"}

    @extend_schema(responses=inline_serializer(name="ScoresLatest", fields={
        "computed_at": serializers.DateTimeField(),
        "window_start": serializers.DateTimeField(),
        "weights": inline_serializer(name="ScoreWeights", fields={
            "compliance": serializers.FloatField(), "speed": serializers.FloatField()}),
        "min_resolved": serializers.IntegerField(),
        "tenant": SnapshotSerializer.__class__(allow_null=True),
        "areas": SnapshotSerializer.__class__(many=True),
        "categories": SnapshotSerializer.__class__(many=True),
    }))
    def get(self, request: Request) -> Response:
        run = _latest_run()
        whole = score_snapshots(run=run, scope=ScoreScope.TENANT)
        return Response({
            "computed_at": run.window_end.isoformat(),
            "window_start": run.window_start.isoformat(),
            "weights": {"compliance": run.compliance_weight, "speed": round(1 - run.compliance_weight, 4)},
            "min_resolved": run.min_resolved,
            "tenant": snapshot_body(whole[0]) if whole else None,
            "areas": [snapshot_body(s) for s in score_snapshots(run=run, scope=ScoreScope.AREA)],
            "categories": [snapshot_body(s) for s in score_snapshots(run=run, scope=ScoreScope.CATEGORY)],
        })


class TrendFilters(MetricFilters):
    scope = serializers.ChoiceField(choices=ScoreScope.choices, default=ScoreScope.TENANT)
    area = serializers.CharField(required=False, max_length=50)
    daily = serializers.BooleanField(default=True)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if attrs["scope"] == ScoreScope.AREA and not attrs.get("area"):
            raise serializers.ValidationError({"area": ["Name the area (its code) for scope=area."]})
        if attrs["scope"] == ScoreScope.CATEGORY and not attrs.get("category"):
            raise serializers.ValidationError({"category": ["Name the category (its code) for scope=category."]})
        return attrs


class ScoreTrend(APIView):
    """Snapshots over time, oldest first: the tenant's, one area's or one category's;
    by default the last of each day."""

    required_scopes = {"GET": "read"}

    @extend_schema(parameters=[TrendFilters], responses=_page_of("ScoreTrendPage", SnapshotSerializer))
    def get(self, request: Request) -> Response:
        filters = TrendFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        area_id = category_id = None
        if data["scope"] == ScoreScope.AREA:
            area_id = Area.objects.filter(code=data["area"]).values_list("pk", flat=True).first()
            if area_id is None:
                raise Http404("No such area.")
        if data["scope"] == ScoreScope.CATEGORY:
            category_id = Category.objects.filter(code=data["category"]).values_list("pk", flat=True).first()
            if category_id is None:
                raise Http404("No such category.")
        since, until = tenant_days_bounds(data.get("since"), data.get("until"))  # as the trend counts days
        rows = score_trend(scope=data["scope"], area_id=area_id, category_id=category_id, since=since, until=until,
                           daily=data["daily"]).select_related("area", "category")
        paginator = MetricPages()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response([snapshot_body(s) for s in page])


class RankingFilters(serializers.Serializer):
    scope = serializers.ChoiceField(choices=[ScoreScope.AREA, ScoreScope.CATEGORY], default=ScoreScope.AREA)


class ScoreRankings(APIView):
    """The latest run's ranking of areas (or categories), best first; those below the
    minimum of resolved issues follow unranked."""

    required_scopes = {"GET": "read"}

    @extend_schema(parameters=[RankingFilters], responses=inline_serializer(name="ScoreRankings", fields={
        "computed_at": serializers.DateTimeField(),
        "min_resolved": serializers.IntegerField(),
        "results": SnapshotSerializer.__class__(many=True),
    }))
    def get(self, request: Request) -> Response:
        filters = RankingFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        run = _latest_run()
        return Response({
            "computed_at": run.window_end.isoformat(),
            "min_resolved": run.min_resolved,
            "results": [snapshot_body(s) for s in score_snapshots(run=run, scope=filters.validated_data["scope"])],
        })


def flag_body(flag: Flag) -> dict:
    return {
        "id": flag.pk,
        "rule": flag.rule.code,
        "rule_version": flag.rule_version,
        "concern": flag.rule.concern,
        "params": flag.params,
        "weight": flag.weight,
        "subject": flag.subject,
        "area": flag.area.code if flag.area_id else None,
        "category": flag.category.code if flag.category_id else None,
        "issue": flag.issue_id,
        "count": flag.support,
        "detail": flag.detail,
        "first_seen_at": flag.first_seen_at.isoformat(),
        "last_seen_at": flag.last_seen_at.isoformat(),
        "cleared_at": flag.cleared_at.isoformat() if flag.cleared_at else None,
    }


class FlagFilters(serializers.Serializer):
    active = serializers.BooleanField(default=True)
    rule = serializers.CharField(required=False, max_length=50)


class FlagList(APIView):
    """Flags raised by the rules: active ones by default, `active=false` for cleared."""

    required_scopes = {"GET": "read"}

    @extend_schema(parameters=[FlagFilters], responses=_page_of("FlagPage", FlagSerializer))
    def get(self, request: Request) -> Response:
        filters = FlagFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        flags = Flag.objects.select_related("rule", "area", "category").filter(cleared_at__isnull=data["active"])
        if data.get("rule"):
            flags = flags.filter(rule__code=data["rule"])
        paginator = MetricPages()
        page = paginator.paginate_queryset(flags.order_by("-last_seen_at", "-id"), request, view=self)
        return paginator.get_paginated_response([flag_body(f) for f in page])


# ---------------------------------------------------------------------------
# Location accountability reports


class LocationReportRequest(serializers.Serializer):
    """One of: an address, a point, an area code."""

    address = serializers.CharField(required=False, max_length=500,
                                    help_text="Standardised, then matched against the known locations.")
    latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    area = serializers.CharField(required=False, max_length=50, help_text="An area's code.")

    def validate(self, attrs: dict) -> dict:
        point = "latitude" in attrs or "longitude" in attrs
        if point and not ("latitude" in attrs and "longitude" in attrs):
            raise serializers.ValidationError({"longitude" if "latitude" in attrs else "latitude": [
                "Give latitude and longitude together."]})
        # Blank strings are refused field by field (they are trimmed first), so presence is enough.
        given = [name for name, present in (("address", "address" in attrs), ("point", point),
                                             ("area", "area" in attrs)) if present]
        if len(given) != 1:
            raise serializers.ValidationError({"non_field_errors": [
                "Give exactly one of: address, latitude and longitude, area."]})
        return attrs


LocationReportSerializer = inline_serializer(name="LocationReport", fields={
    "id": serializers.IntegerField(),
    "generated_at": serializers.DateTimeField(),
    "requested_by": serializers.CharField(),
    "request": serializers.DictField(),
    "resolved": serializers.BooleanField(),
    "reason": serializers.CharField(help_text="Why nothing matched; empty when resolved."),
    "subject": serializers.DictField(allow_null=True, help_text=(
        "kind=location: id, address, address_key, latitude, longitude, radius_m, distance_m; "
        "kind=area: id, code, name")),
    "findings": serializers.DictField(allow_null=True, help_text=(
        "issues, reports, timeline, sla, flags, area_score, freshness (docs/location-reports.md)")),
    "narrative": serializers.CharField(),
    "narrative_source": inline_serializer(name="NarrativeSource", fields={
        "source": serializers.ChoiceField(choices=["model", "deterministic"]),
        "why": serializers.CharField(),
    }),
})


class PdfRenderer(BaseRenderer):
    """Lets a client ask for `Accept: application/pdf`; the PDF itself is returned as is,
    and an error under that Accept is written as the usual JSON error body."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data: object, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        return data if isinstance(data, bytes) else json.dumps(data).encode()


def _location_report(report_id: int) -> LocationReport:
    report = location_report_by_id(report_id=report_id)
    if report is None:
        raise Http404
    return report


class LocationReportCreate(APIView):
    """Generate a location accountability report for an address, a point (the nearest
    known location within 50 m) or an area, and store it. No match is an answer too:
    `resolved` false with the reason (still 201: the request is stored)."""

    required_scopes = {"POST": "read"}

    @extend_schema(request=LocationReportRequest, responses={201: LocationReportSerializer})
    def post(self, request: Request) -> Response:
        data = LocationReportRequest(data=request.data)
        data.is_valid(raise_exception=True)
        report = location_report_create(request=data.validated_data, actor_label=f"api:{request.auth.name}")
        return Response(report.body, status=201,
                        headers={"Location": reverse("api-location-report", args=[report.pk])})


class LocationReportDetail(APIView):
    """A stored report, exactly as it was generated."""

    required_scopes = {"GET": "read"}

    @extend_schema(responses=LocationReportSerializer)
    def get(self, request: Request, report_id: int) -> Response:
        return Response(_location_report(report_id).body)


class LocationReportPdf(APIView):
    """A stored report as PDF, rendered again from its stored JSON."""

    required_scopes = {"GET": "read"}
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, report_id: int) -> HttpResponse:
        return location_report_pdf_response(_location_report(report_id))
