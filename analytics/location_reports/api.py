"""The location reports API: a report generated for an address, a point or an area and
stored (scope `location`, a few an hour per key: each one writes a row and may call the
language model); fetched again (scope `read`), and as PDF, exactly as it was generated
(rendered on the first download and stored)."""

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from analytics.location_reports.models import LocationReport
from analytics.location_reports.pdf import location_report_pdf_response
from analytics.location_reports.selectors import location_report_by_id
from analytics.location_reports.services import location_report_create
from civicpulse.apikeys.models import ApiKey
from civicpulse.core.ratelimit import rate_limit_hit


class LocationReportRequest(serializers.Serializer):
    """One of: an address, a point, an area code."""

    address = serializers.CharField(
        required=False, max_length=500, help_text="Standardised, then matched against the known locations."
    )
    latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    area = serializers.CharField(required=False, max_length=50, help_text="An area's code.")

    def validate(self, attrs: dict) -> dict:
        point = "latitude" in attrs or "longitude" in attrs
        if point and not ("latitude" in attrs and "longitude" in attrs):
            missing = "longitude" if "latitude" in attrs else "latitude"
            raise serializers.ValidationError({missing: ["Give latitude and longitude together."]})
        # Blank strings are refused field by field (they are trimmed first), so presence is enough.
        given = [
            name
            for name, present in (
                ("address", "address" in attrs),
                ("point", point),
                ("area", "area" in attrs),
            )
            if present
        ]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give exactly one of: address, latitude and longitude, area."]}
            )
        return attrs


LocationReportSerializer = inline_serializer(
    name="LocationReport",
    fields={
        "id": serializers.IntegerField(),
        "generated_at": serializers.DateTimeField(),
        "requested_by": serializers.CharField(),
        "request": serializers.DictField(),
        "resolved": serializers.BooleanField(),
        "reason": serializers.CharField(help_text="Why nothing matched; empty when resolved."),
        "subject": serializers.DictField(
            allow_null=True,
            help_text=(
                "kind=location: id, address, address_key, latitude, longitude, radius_m, distance_m; "
                "kind=area: id, code, name"
            ),
        ),
        "findings": serializers.DictField(
            allow_null=True,
            help_text=(
                "issues, reports, timeline, sla, flags, area_score, freshness (docs/location-reports.md)"
            ),
        ),
        "narrative": serializers.CharField(),
        "narrative_source": inline_serializer(
            name="NarrativeSource",
            fields={
                "source": serializers.ChoiceField(choices=["model", "deterministic"]),
                "why": serializers.CharField(),
            },
        ),
    },
)


class PdfRenderer(BaseRenderer):
    """Lets a client ask for `Accept: application/pdf`; the PDF itself is returned as is,
    and an error under that Accept is written as the usual JSON error body."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(
        self,
        data: object,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return data if isinstance(data, bytes) else json.dumps(data).encode()


def _location_report(report_id: int) -> LocationReport:
    report = location_report_by_id(report_id=report_id)
    if report is None:
        raise Http404
    return report


class LocationReportCreateThrottle(BaseThrottle):
    """Per key, LOCATION_REPORT_CREATE_PER_HOUR reports an hour (0: no limit), beside the
    key's own per-minute rate: each report writes a row and may call the model."""

    _wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        api_key = request.auth
        if request.method != "POST" or not isinstance(api_key, ApiKey):
            return True
        self._wait = rate_limit_hit(
            f"key:{api_key.pk}",
            limit=settings.LOCATION_REPORT_CREATE_PER_HOUR,
            window_s=3600,
            scope="location-report",
        ).wait
        return self._wait is None

    def wait(self) -> float:
        return self._wait or 3600.0


class LocationReportCreate(APIView):
    """Generate a location accountability report for an address, a point (the nearest
    known location within 50 m) or an area, and store it. No match is an answer too:
    `resolved` false with the reason (still 201: the request is stored). Needs the
    `location` scope, and is limited per key (LOCATION_REPORT_CREATE_PER_HOUR)."""

    required_scopes = {"POST": ApiKey.Scope.LOCATION.value}

    def get_throttles(self) -> list[BaseThrottle]:
        return [*super().get_throttles(), LocationReportCreateThrottle()]

    @extend_schema(request=LocationReportRequest, responses={201: LocationReportSerializer})
    def post(self, request: Request) -> Response:
        data = LocationReportRequest(data=request.data)
        data.is_valid(raise_exception=True)
        api_key = request.auth
        if not isinstance(api_key, ApiKey):  # HasScope lets only an API key this far
            raise NotAuthenticated
        report = location_report_create(request=data.validated_data, actor_label=f"api:{api_key.name}")
        return Response(
            report.body, status=201, headers={"Location": reverse("api-location-report", args=[report.pk])}
        )


class LocationReportDetail(APIView):
    """A stored report, exactly as it was generated."""

    required_scopes = {"GET": "read"}

    @extend_schema(responses=LocationReportSerializer)
    def get(self, request: Request, report_id: int) -> Response:
        return Response(_location_report(report_id).body)


class LocationReportPdf(APIView):
    """A stored report as PDF, rendered from its stored JSON on the first download and
    served as stored after."""

    required_scopes = {"GET": "read"}
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, report_id: int) -> HttpResponse:
        return location_report_pdf_response(_location_report(report_id))
