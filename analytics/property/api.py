"""The property API (docs/api.md, docs/property.md): lookup, reports (JSON or PDF), the
caller's reports and the address autocomplete. For API keys with the `property` scope,
analysts' JWTs and staff sessions, on city tenants."""

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from analytics.api_common import MetricPages, page_of
from analytics.location_reports.api import PdfRenderer
from analytics.property.lookup import Lookup, location_lookup_by_id, property_lookup
from analytics.property.models import MatchConfidence, PropertyReport
from analytics.property.permissions import PropertyAPIView, PropertyReportCreateThrottle, caller
from analytics.property.selectors import address_suggestions, property_report_for, property_reports_mine
from analytics.property.services import property_report_create, property_report_pdf_get


class LookupRequest(serializers.Serializer):
    """Any of: a PIN, an address, a point; the tiers are tried in that order."""

    pin = serializers.CharField(required=False, max_length=40, help_text="14 digits, dashes allowed.")
    address = serializers.CharField(required=False, max_length=500)
    latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)

    def validate(self, attrs: dict) -> dict:
        if ("latitude" in attrs) != ("longitude" in attrs):
            missing = "longitude" if "latitude" in attrs else "latitude"
            raise serializers.ValidationError({missing: ["Give latitude and longitude together."]})
        if not (attrs.get("pin") or attrs.get("address") or "latitude" in attrs):
            raise serializers.ValidationError(
                {"non_field_errors": ["Give a pin, an address, or latitude and longitude."]}
            )
        return attrs


class ReportRequest(LookupRequest):
    location_id = serializers.IntegerField(required=False, min_value=1, help_text="From an earlier lookup.")

    def validate(self, attrs: dict) -> dict:
        if "location_id" in attrs:
            if len(attrs) > 1:
                raise serializers.ValidationError(
                    {"non_field_errors": ["Give a location_id alone, or the lookup's fields."]}
                )
            return attrs
        return super().validate(attrs)


LookupAnswer = inline_serializer(
    name="PropertyLookup",
    fields={
        "location_id": serializers.IntegerField(allow_null=True),
        "match_confidence": serializers.ChoiceField(choices=MatchConfidence.choices),
        "address": serializers.CharField(allow_null=True),
        "resolved": serializers.BooleanField(),
        "warning": serializers.CharField(help_text="What to check about the match, or why nothing matched."),
        "parse_confidence": serializers.ChoiceField(choices=["HIGH", "LOW"], allow_null=True),
        "distance_m": serializers.FloatField(allow_null=True, help_text="GEOSPATIAL only."),
    },
)
FlagSerializer = inline_serializer(
    name="PropertyFlag",
    fields={
        "code": serializers.CharField(),
        "category": serializers.ChoiceField(choices=["A", "B", "C", "D"]),
        "description": serializers.CharField(),
        "severity": serializers.IntegerField(),
        "supporting_count": serializers.IntegerField(),
        "rule_version": serializers.IntegerField(),
    },
)
ReportSerializer = inline_serializer(
    name="PropertyReport",
    fields={
        "id": serializers.IntegerField(),
        "generated_at": serializers.DateTimeField(),
        "requested_by": serializers.CharField(),
        "query": serializers.DictField(),
        "match_confidence": serializers.ChoiceField(choices=MatchConfidence.choices),
        "warning": serializers.CharField(),
        "location": serializers.DictField(
            help_text="id, address, address_key, latitude, longitude, parse_confidence, distance_m, radius_m"
        ),
        "score": serializers.IntegerField(),
        "tier": serializers.ChoiceField(choices=["LOW", "MODERATE", "HIGH", "CRITICAL"]),
        "flag_codes": serializers.ListField(child=serializers.CharField()),
        "flags": FlagSerializer.__class__(many=True),
        "rule_versions": serializers.DictField(child=serializers.IntegerField()),
        "records": serializers.DictField(
            help_text="violations, inspections, permits, 311, tax_sales, vacant_buildings: rows newest first"
        ),
        "record_counts": serializers.DictField(),
        "record_limit": serializers.IntegerField(),
        "freshness": serializers.DictField(help_text="Each dataset's latest complete batch, or null."),
        "scale": serializers.DictField(help_text="tier_bounds and max_score, for the gauge"),
        "map": serializers.DictField(),
        "narrative": serializers.CharField(),
        "narrative_source": serializers.DictField(),
        "disclaimer": serializers.CharField(),
    },
)
ReportListItem = inline_serializer(
    name="PropertyReportListItem",
    fields={
        "id": serializers.IntegerField(),
        "created_at": serializers.DateTimeField(),
        "address": serializers.CharField(allow_null=True),
        "match_confidence": serializers.CharField(),
        "score": serializers.IntegerField(allow_null=True),
        "tier": serializers.CharField(),
        "flags": serializers.ListField(child=serializers.CharField()),
    },
)
Suggestion = inline_serializer(
    name="AddressSuggestion",
    fields={
        "location_id": serializers.IntegerField(),
        "address": serializers.CharField(),
        "address_key": serializers.CharField(),
    },
)


def _lookup(data: dict) -> Lookup:
    if "location_id" in data:
        return location_lookup_by_id(data["location_id"])
    return property_lookup(
        pin=data.get("pin", ""),
        address=data.get("address", ""),
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
    )


def pdf_response(report: PropertyReport) -> HttpResponse:
    response = HttpResponse(property_report_pdf_get(report=report), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="property-report-{report.pk}.pdf"'
    return response


class PropertyLookup(PropertyAPIView):
    """Which known location a PIN, an address or a point means, and how sure the match is
    (EXACT_PIN, EXACT_ADDRESS, STREET_ZIP, GEOSPATIAL; NO_MATCH with a warning)."""

    @extend_schema(request=LookupRequest, responses={200: LookupAnswer})
    def post(self, request: Request) -> Response:
        data = LookupRequest(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(_lookup(data.validated_data).as_dict())


class PropertyReportCreate(PropertyAPIView):
    """Generate and store a property report for a location id or a lookup's fields; the
    JSON, or with `?format=pdf` the PDF. Nothing matched: 404 with the lookup's warning."""

    renderer_classes = [JSONRenderer, PdfRenderer]

    def get_throttles(self) -> list[BaseThrottle]:
        return [*super().get_throttles(), PropertyReportCreateThrottle()]

    @extend_schema(
        request=ReportRequest,
        parameters=[OpenApiParameter("format", str, enum=["json", "pdf"], required=False)],
        responses={201: ReportSerializer, (201, "application/pdf"): OpenApiTypes.BINARY},
    )
    def post(self, request: Request) -> Response | HttpResponse:
        data = ReportRequest(data=request.data)
        data.is_valid(raise_exception=True)
        lookup = _lookup(data.validated_data)
        if not lookup.resolved:
            raise NotFound(lookup.warning)
        user, api_key = caller(request)
        report = property_report_create(lookup=lookup, query=data.validated_data, actor=user, api_key=api_key)
        headers = {"Location": reverse("api-property-report", args=[report.pk])}
        if request.query_params.get("format") == "pdf":
            response = pdf_response(report)
            response.status_code = 201
            response["Location"] = headers["Location"]
            return response
        return Response(report.body, status=201, headers=headers)


def _report(request: Request, report_id: int) -> PropertyReport:
    user, api_key = caller(request)
    report = property_report_for(report_id=report_id, user=user, api_key=api_key)
    if report is None:
        raise NotFound("No such property report, or not yours.")
    return report


class PropertyReportDetail(PropertyAPIView):
    """A stored report exactly as it was generated (analysts: their own only)."""

    @extend_schema(responses=ReportSerializer)
    def get(self, request: Request, report_id: int) -> Response:
        return Response(_report(request, report_id).body)


class PropertyReportPdf(PropertyAPIView):
    """A stored report as PDF, rendered from its stored JSON once and kept."""

    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, report_id: int) -> HttpResponse:
        return pdf_response(_report(request, report_id))


class PropertyReportsMine(PropertyAPIView):
    """The caller's own reports, newest first, a page of 100 at a time."""

    @extend_schema(responses=page_of("PropertyReportPage", ReportListItem))
    def get(self, request: Request) -> Response:
        user, api_key = caller(request)
        reports = property_reports_mine(user=user, api_key=api_key).select_related("location")
        pages = MetricPages()
        page = pages.paginate_queryset(reports, request, view=self) or []
        return pages.get_paginated_response(
            [
                {
                    "id": r.pk,
                    "created_at": r.created_at,
                    "address": r.location.address if r.location else None,
                    "match_confidence": r.match_confidence,
                    "score": r.score,
                    "tier": r.tier,
                    "flags": r.flags,
                }
                for r in page
            ]
        )


class AddressQuery(serializers.Serializer):
    q = serializers.CharField(max_length=200)


class PropertyAddresses(PropertyAPIView):
    """Up to 10 known addresses for what was typed: prefix matches of its standardised
    form, then trigram neighbours."""

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True)],
        responses=inline_serializer(
            name="AddressSuggestions", fields={"results": Suggestion.__class__(many=True)}
        ),
    )
    def get(self, request: Request) -> Response:
        query = AddressQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response({"results": address_suggestions(q=query.validated_data["q"])})
