"""A stored location report as HTML and PDF. Both are drawn from the report's stored JSON
alone, so a PDF made today and one made next year from the same report say the same
thing. Charts are server-side SVG: WeasyPrint runs no JavaScript."""

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from analytics.location_reports.models import LocationReport
from civicpulse.core.charts import hbars_svg, stacked_bars_svg


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
    # Imported here: WeasyPrint loads Pango when imported, which only the PDF needs.
    from weasyprint import HTML

    return HTML(string=location_report_html(body)).write_pdf()


def location_report_pdf_response(report: LocationReport) -> HttpResponse:
    """The report's PDF, to show in the browser, named after the report."""
    response = HttpResponse(location_report_pdf(report.body), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="location-report-{report.pk}.pdf"'
    return response
