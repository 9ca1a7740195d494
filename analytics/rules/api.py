"""The flags API (scope `read`): the flags raised by the rules, active or cleared."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api_common import MetricPages, page_of
from analytics.rules.models import Flag
from analytics.rules.selectors import flags_listed


def flag_body(flag: Flag) -> dict:
    return {
        "id": flag.pk,
        "rule": flag.rule.code,
        "rule_version": flag.rule_version,
        "concern": flag.rule.concern,
        "params": flag.params,
        "weight": flag.weight,
        "subject": flag.subject,
        "area": flag.area.code if flag.area else None,
        "category": flag.category.code if flag.category else None,
        "issue": flag.issue_id,
        "count": flag.support,
        "detail": flag.detail,
        "first_seen_at": flag.first_seen_at.isoformat(),
        "last_seen_at": flag.last_seen_at.isoformat(),
        "cleared_at": flag.cleared_at.isoformat() if flag.cleared_at else None,
    }


# The body above, for the OpenAPI schema.
FlagSerializer = inline_serializer(
    name="Flag",
    fields={
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
    },
)


class FlagFilters(serializers.Serializer):
    active = serializers.BooleanField(default=True)
    rule = serializers.CharField(required=False, max_length=50)


class FlagList(APIView):
    """Flags raised by the rules: active ones by default, `active=false` for cleared."""

    required_scopes = {"GET": "read"}

    @extend_schema(parameters=[FlagFilters], responses=page_of("FlagPage", FlagSerializer))
    def get(self, request: Request) -> Response:
        filters = FlagFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        flags = flags_listed(active=data["active"], rule=data.get("rule"))
        paginator = MetricPages()
        page = paginator.paginate_queryset(flags, request, view=self) or []
        return paginator.get_paginated_response([flag_body(f) for f in page])
