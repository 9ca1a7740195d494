"""The intake API: POST /api/v1/reports/ and GET /api/v1/reports/<tracking_id>/."""

import copy

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from civicpulse.apikeys.models import ApiKey
from civicpulse.core.ratelimit import client_address
from reports.models import Report
from reports.selectors import report_by_tracking_id
from reports.services.intake import report_submit


class TextField(serializers.CharField):
    """A JSON string, nothing else: a number where text belongs is a client bug to report."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class NumberField(serializers.FloatField):
    """A JSON number, nothing else: `true` or "39.8" where a coordinate belongs is refused."""

    def to_internal_value(self, data: object) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class ReportCreateSerializer(serializers.Serializer):
    """Types only; the rules (ranges, what is required together) live in report_submit,
    so every channel applies the same ones."""

    description = TextField(trim_whitespace=False, allow_blank=True)
    latitude = NumberField(required=False, allow_null=True)
    longitude = NumberField(required=False, allow_null=True)
    address = TextField(required=False, allow_blank=True, trim_whitespace=False)
    category = TextField(required=False, allow_null=True, allow_blank=True)
    email = TextField(required=False, allow_blank=True)
    external_id = TextField(required=False, allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies the declared fields for each serializer, running every field's
        # __init__ again: 4 % of a submission's time holding the GIL under py-spy. A
        # shallow copy with its own validators and messages serves these fields, which
        # are plain text and numbers with no child fields (test); bind() sets the rest.
        fields = {}
        for name, declared in self._declared_fields.items():
            field = copy.copy(declared)
            field.validators = list(declared.validators)
            field.error_messages = dict(declared.error_messages)
            fields[name] = field
        return fields

    def validate(self, attrs: dict) -> dict:
        unknown = (
            sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        )
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


# What report_body answers, for the OpenAPI schema.
ReportBodySerializer = inline_serializer(
    name="Report",
    fields={
        "tracking_id": serializers.CharField(),
        "status": serializers.ChoiceField(choices=Report.Status.choices),
        "submitted_at": serializers.DateTimeField(),
        "classification": inline_serializer(
            name="Classification",
            fields={
                "category": serializers.CharField(allow_null=True),
                "severity": serializers.CharField(allow_null=True),
                "summary": serializers.CharField(allow_blank=True),
                "confidence": serializers.FloatField(allow_null=True),
                "classifier": serializers.CharField(allow_blank=True),
            },
            allow_null=True,
        ),
        "issue": inline_serializer(
            name="ReportIssue",
            fields={
                "id": serializers.IntegerField(),
                "status": serializers.CharField(),
                "report_count": serializers.IntegerField(),
            },
            allow_null=True,
        ),
    },
)


def report_body(report: Report) -> dict:
    issue = report.issue
    return {
        "tracking_id": report.tracking_id,
        "status": report.status,
        "submitted_at": report.submitted_at.isoformat(),
        "classification": None
        if report.status != Report.Status.PROCESSED
        else {
            "category": report.category.code if report.category else None,
            "severity": report.severity or None,
            "summary": report.summary,
            "confidence": report.confidence,
            "classifier": report.classifier,
        },
        "issue": None
        if issue is None
        else {"id": issue.pk, "status": issue.status, "report_count": issue.report_count},
    }


class ReportCollection(APIView):
    required_scopes = {"POST": "submit"}

    @extend_schema(
        request=ReportCreateSerializer,
        responses={201: ReportBodySerializer, 200: ReportBodySerializer},
        description="Submit a report (scope submit). A repeated external_id answers 200 with the same report.",
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            return Response(
                {"code": "invalid", "message": "Send a JSON object.", "fields": {}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = report_submit(
            description=data["description"],
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            address=data.get("address") or "",
            category_code=data.get("category") or None,
            email=data.get("email") or "",
            external_id=data.get("external_id"),
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,  # HasScope: always a key
            channel=Report.Channel.API,
            client=client_address(request),
        )
        location = f"/api/v1/reports/{result.report.tracking_id}/"
        return Response(
            report_body(result.report),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            headers={"Location": location},
        )


class ReportDetail(APIView):
    required_scopes = {"GET": "read"}

    @extend_schema(responses=ReportBodySerializer, description="A report by its tracking id (scope read).")
    def get(self, request: Request, tracking_id: str) -> Response:
        report = report_by_tracking_id(tracking_id)
        if report is None:
            raise Http404
        return Response(report_body(report))
