"""The SLA API (scope `read`): current policies, one issue's SLA, resolved issues' metrics."""

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api_common import MetricFilters, MetricPages, page_of
from analytics.sla.models import SlaMetric, SlaPolicy
from analytics.sla.selectors import (
    issue_metric,
    issue_paused_seconds,
    issue_sla,
    sla_metrics,
    sla_policies_current,
)
from issues.models import Issue


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 3)


def policy_body(policy: SlaPolicy) -> dict:
    return {
        "id": policy.pk,
        "category": policy.category.code if policy.category else None,
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
        "category": metric.category.code if metric.category else None,
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
PolicySerializer = inline_serializer(
    name="SlaPolicy",
    fields={
        "id": serializers.IntegerField(),
        "category": serializers.CharField(allow_null=True),
        "severity": serializers.CharField(allow_null=True),
        "acknowledge_hours": serializers.FloatField(),
        "resolve_hours": serializers.FloatField(),
        "clock": serializers.CharField(),
        "version": serializers.IntegerField(),
        "effective_from": serializers.DateTimeField(allow_null=True),
        "superseded_at": serializers.DateTimeField(allow_null=True),
    },
)
MetricSerializer = inline_serializer(
    name="SlaMetric",
    fields={
        "issue": serializers.IntegerField(),
        "category": serializers.CharField(allow_null=True),
        "severity": serializers.CharField(allow_null=True),
        "created_at": serializers.DateTimeField(),
        "resolved_at": serializers.DateTimeField(),
        "clock": serializers.CharField(),
        **{
            name: serializers.FloatField(allow_null=True)
            for name in (
                "acknowledge_hours",
                "resolve_hours",
                "acknowledge_target_hours",
                "resolve_target_hours",
                "paused_hours",
            )
        },
        "acknowledge_met": serializers.BooleanField(allow_null=True),
        "resolve_met": serializers.BooleanField(allow_null=True),
        "policy": inline_serializer(
            name="SlaMetricPolicy",
            fields={"id": serializers.IntegerField(), "version": serializers.IntegerField()},
        ),
    },
)
IssueSlaSerializer = inline_serializer(
    name="IssueSla",
    fields={
        "issue": serializers.IntegerField(),
        "status": serializers.CharField(),
        "paused_hours": serializers.FloatField(allow_null=True),
        "state": serializers.CharField(
            allow_null=True, help_text="on_track, at_risk, breached, ...; met or missed once resolved"
        ),
        "paused": serializers.BooleanField(),
        "acknowledge_due_at": serializers.DateTimeField(allow_null=True, required=False),
        "resolve_due_at": serializers.DateTimeField(allow_null=True, required=False),
        "time_left_hours": serializers.FloatField(allow_null=True, required=False),
        "acknowledge_used": serializers.FloatField(required=False),
        "resolve_used": serializers.FloatField(required=False),
        "evaluated_at": serializers.DateTimeField(required=False),
        "policy": PolicySerializer.__class__(allow_null=True),
        "metric": MetricSerializer.__class__(allow_null=True),
    },
)


class SlaPolicyList(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(
        responses=inline_serializer(
            name="SlaPolicies", fields={"results": PolicySerializer.__class__(many=True)}
        )
    )
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
        body: dict = {
            "issue": issue.pk,
            "status": issue.status,
            "paused_hours": _hours(issue_paused_seconds(issue=issue, now=now)),
        }
        sla = issue_sla(issue_id=issue.pk)
        if sla is not None:
            body |= {
                "state": sla.state,
                "paused": sla.paused,
                "acknowledge_due_at": sla.ack_due_at.isoformat() if sla.ack_due_at else None,
                "resolve_due_at": sla.resolve_due_at.isoformat() if sla.resolve_due_at else None,
                "time_left_hours": _hours((sla.next_due_at - now).total_seconds())
                if sla.next_due_at
                else None,
                "acknowledge_used": round(sla.ack_used, 4),
                "resolve_used": round(sla.resolve_used, 4),
                "evaluated_at": sla.evaluated_at.isoformat(),
                "policy": policy_body(sla.policy),
                "metric": None,
            }
        elif metric := issue_metric(issue_id=issue.pk):
            body |= {
                "state": "met" if metric.resolve_met else "missed",
                "paused": False,
                "policy": policy_body(metric.policy),
                "metric": metric_body(metric),
            }
        else:
            body |= {"state": None, "paused": False, "policy": None, "metric": None}
        return Response(body)


class SlaMetricList(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(parameters=[MetricFilters], responses=page_of("SlaMetricPage", MetricSerializer))
    def get(self, request: Request) -> Response:
        filters = MetricFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = MetricPages()
        page = paginator.paginate_queryset(sla_metrics(**filters.validated_data), request, view=self) or []
        return paginator.get_paginated_response([metric_body(m) for m in page])
