"""The scores API (scope `read`): the latest run's figures, trends over time and the
rankings of areas or categories."""

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api_common import MetricFilters, MetricPages, page_of
from analytics.scores.models import ScoreRun, ScoreScope, ScoreSnapshot
from analytics.scores.selectors import score_run_latest, score_snapshots, score_trend
from issues.models import Area, Category
from tenants.selectors import tenant_days_bounds


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def snapshot_body(snapshot: ScoreSnapshot) -> dict:
    return {
        "scope": snapshot.scope,
        "area": snapshot.area.code if snapshot.area else None,
        "category": snapshot.category.code if snapshot.category else None,
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
SnapshotSerializer = inline_serializer(
    name="ScoreSnapshot",
    fields={
        "scope": serializers.ChoiceField(choices=ScoreScope.choices),
        "area": serializers.CharField(allow_null=True),
        "category": serializers.CharField(allow_null=True),
        "computed_at": serializers.DateTimeField(),
        **{name: serializers.IntegerField() for name in ("reported", "resolved", "met", "open")},
        **{
            name: serializers.FloatField(allow_null=True)
            for name in (
                "compliance",
                "median_resolve_hours",
                "p90_resolve_hours",
                "backlog_median_age_hours",
                "backlog_max_age_hours",
                "speed",
            )
        },
        "score": serializers.FloatField(
            allow_null=True, help_text="0 to 100; null below the minimum of resolved issues"
        ),
        "rank": serializers.IntegerField(allow_null=True),
    },
)


class ScoreLatest(APIView):
    """The latest run: the tenant's figures, every area's and every category's."""

    required_scopes = {"GET": "read"}

    @extend_schema(
        responses=inline_serializer(
            name="ScoresLatest",
            fields={
                "computed_at": serializers.DateTimeField(),
                "window_start": serializers.DateTimeField(),
                "weights": inline_serializer(
                    name="ScoreWeights",
                    fields={"compliance": serializers.FloatField(), "speed": serializers.FloatField()},
                ),
                "min_resolved": serializers.IntegerField(),
                "tenant": SnapshotSerializer.__class__(allow_null=True),
                "areas": SnapshotSerializer.__class__(many=True),
                "categories": SnapshotSerializer.__class__(many=True),
            },
        )
    )
    def get(self, request: Request) -> Response:
        run = _latest_run()
        whole = score_snapshots(run=run, scope=ScoreScope.TENANT)
        return Response(
            {
                "computed_at": run.window_end.isoformat(),
                "window_start": run.window_start.isoformat(),
                "weights": {
                    "compliance": run.compliance_weight,
                    "speed": round(1 - run.compliance_weight, 4),
                },
                "min_resolved": run.min_resolved,
                "tenant": snapshot_body(whole[0]) if whole else None,
                "areas": [snapshot_body(s) for s in score_snapshots(run=run, scope=ScoreScope.AREA)],
                "categories": [snapshot_body(s) for s in score_snapshots(run=run, scope=ScoreScope.CATEGORY)],
            }
        )


class TrendFilters(MetricFilters):
    scope = serializers.ChoiceField(choices=ScoreScope.choices, default=ScoreScope.TENANT)
    area = serializers.CharField(required=False, max_length=50)
    daily = serializers.BooleanField(default=True)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if attrs["scope"] == ScoreScope.AREA and not attrs.get("area"):
            raise serializers.ValidationError({"area": ["Name the area (its code) for scope=area."]})
        if attrs["scope"] == ScoreScope.CATEGORY and not attrs.get("category"):
            raise serializers.ValidationError(
                {"category": ["Name the category (its code) for scope=category."]}
            )
        return attrs


class ScoreTrend(APIView):
    """Snapshots over time, oldest first: the tenant's, one area's or one category's;
    by default the last of each day."""

    required_scopes = {"GET": "read"}

    @extend_schema(parameters=[TrendFilters], responses=page_of("ScoreTrendPage", SnapshotSerializer))
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
        rows = score_trend(
            scope=data["scope"],
            area_id=area_id,
            category_id=category_id,
            since=since,
            until=until,
            daily=data["daily"],
        ).select_related("area", "category")
        paginator = MetricPages()
        page = paginator.paginate_queryset(rows, request, view=self) or []
        return paginator.get_paginated_response([snapshot_body(s) for s in page])


class RankingFilters(serializers.Serializer):
    scope = serializers.ChoiceField(choices=[ScoreScope.AREA, ScoreScope.CATEGORY], default=ScoreScope.AREA)


class ScoreRankings(APIView):
    """The latest run's ranking of areas (or categories), best first; those below the
    minimum of resolved issues follow unranked."""

    required_scopes = {"GET": "read"}

    @extend_schema(
        parameters=[RankingFilters],
        responses=inline_serializer(
            name="ScoreRankings",
            fields={
                "computed_at": serializers.DateTimeField(),
                "min_resolved": serializers.IntegerField(),
                "results": SnapshotSerializer.__class__(many=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        filters = RankingFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        run = _latest_run()
        return Response(
            {
                "computed_at": run.window_end.isoformat(),
                "min_resolved": run.min_resolved,
                "results": [
                    snapshot_body(s) for s in score_snapshots(run=run, scope=filters.validated_data["scope"])
                ],
            }
        )
