"""The staff console's location reports: a read-only list of stored reports, each with
its figures (charts and a table) and its PDF. The issue page's "Location report" button:
analytics/location_reports/issue_admin.py."""

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from analytics.location_reports.models import LocationReport
from analytics.location_reports.pdf import location_report_charts, location_report_pdf_response
from civicpulse.core.admin import ReadOnlyTenantAdmin


@admin.register(LocationReport)
class LocationReportAdmin(ReadOnlyTenantAdmin):
    """Stored reports are the record of what was said: read-only, and kept."""

    list_display = ("id", "created_at", "requested_by_label", "place", "resolved", "narrative_source")
    list_filter = ("resolved", "narrative_source")
    fields = (
        "created_at",
        "requested_by_label",
        "request",
        "resolved",
        "place",
        "figures",
        "pdf",
        "stored_json",
    )
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:report_id>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="analytics_locationreport_pdf",
            ),
            *super().get_urls(),
        ]

    def pdf_view(self, request: HttpRequest, report_id: int) -> HttpResponse:
        report = get_object_or_404(LocationReport, pk=report_id)
        if not self.has_view_permission(request, report):
            raise PermissionDenied
        return location_report_pdf_response(report)

    @admin.display(description="place")
    def place(self, report: LocationReport) -> str:
        subject = report.body.get("subject")
        if not subject:
            return report.body.get("reason", "")
        return subject["address"] if subject["kind"] == "location" else f"Area: {subject['name']}"

    @admin.display(description="figures")
    def figures(self, report: LocationReport) -> str:
        findings = report.body.get("findings")
        if not findings:
            return report.body.get("narrative", "")
        charts = location_report_charts(report.body)
        issues, sla = findings["issues"], findings["sla"]
        rows = [
            ("Issues", issues["total"]),
            ("Open", issues["open"]),
            ("Resolved", issues["resolved"]),
            ("Closed", issues["closed"]),
            ("Reports", findings["reports"]["total"]),
            ("Resolved within target", f"{sla['resolve_met']} of {sla['resolved_measured']}"),
            (
                "Median hours to resolve",
                sla["median_resolve_hours"] if sla["median_resolve_hours"] is not None else "—",
            ),
            ("Open and breached", sla["open_breached"]),
            ("Active flags", len(findings["flags"])),
        ]
        return format_html(
            "<p>{}</p><p><small>Narrative: {} ({})</small></p>{}{}<table>{}</table>",
            report.body["narrative"],
            report.body["narrative_source"]["source"],
            report.body["narrative_source"]["why"],
            charts["timeline"],
            charts["sla"],
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    @admin.display(description="PDF")
    def pdf(self, report: LocationReport) -> str:
        return format_html(
            '<a href="{}">Download the PDF</a> (rendered from the stored JSON below)',
            reverse("admin:analytics_locationreport_pdf", args=[report.pk]),
        )

    @admin.display(description="stored JSON")
    def stored_json(self, report: LocationReport) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(report.body, indent=2))
