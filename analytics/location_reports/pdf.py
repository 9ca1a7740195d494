"""A stored location report as HTML and PDF. Both are drawn from the report's stored JSON
alone, so a PDF made today and one made next year from the same report say the same
thing. Charts are server-side SVG: WeasyPrint runs no JavaScript."""

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from analytics.location_reports.models import LocationReport, LocationReportPdf
from civicpulse.core.charts import hbars_svg, stacked_bars_svg
from civicpulse.core.pdf import html_to_pdf


def location_report_charts(body: dict) -> dict[str, SafeString]:
    findings = body.get("findings")
    if not findings:
        return {}
    timeline = [(row["month"], [row["reports"], row["issues"]]) for row in findings["timeline"]]
    sla = findings["sla"]
    return {
        "timeline": stacked_bars_svg(
            timeline, ["Reports", "Issues created"], title="Reports and issues per month"
        ),
        "sla": hbars_svg(
            [
                ("Met resolution target", sla["resolve_met"]),
                ("Missed resolution target", sla["resolve_missed"]),
                ("Open, on track", sla["open_on_track"]),
                ("Open, at risk", sla["open_at_risk"]),
                ("Open, breached", sla["open_breached"]),
            ],
            title="SLA record",
            width=560,
        ),
        "categories": hbars_svg(
            [(c["category"], c["issues"]) for c in findings["issues"]["by_category"]],
            title="Issues by category",
            width=560,
        ),
    }


def location_report_html(body: dict) -> str:
    return render_to_string(
        "analytics/location_report.html", {"r": body, "charts": location_report_charts(body)}
    )


def location_report_pdf(body: dict) -> bytes:
    """The PDF of a report's body, rendered now (fetching no URL: civicpulse.core.pdf)."""
    return html_to_pdf(location_report_html(body))


def location_report_pdf_response(report: LocationReport) -> HttpResponse:
    """The report's PDF, to show in the browser, named after the report: rendered on the
    first download and stored, then served as stored."""
    response = HttpResponse(location_report_pdf_stored(report=report), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="location-report-{report.pk}.pdf"'
    return response


def location_report_pdf_stored(*, report: LocationReport) -> bytes:
    """The report's PDF as stored, rendering and storing it on the first call. Two first
    downloads at once both render, and the first to store wins; both serve the same."""
    stored = LocationReportPdf.objects.filter(report_id=report.pk).values_list("pdf", flat=True).first()
    if stored is not None:
        return bytes(stored)
    pdf = location_report_pdf(report.body)
    LocationReportPdf.objects.bulk_create(
        [LocationReportPdf(report_id=report.pk, pdf=pdf)], ignore_conflicts=True
    )
    return pdf
