"""Reads of stored location reports."""

from analytics.location_reports.models import LocationReport


def location_report_by_id(*, report_id: int) -> LocationReport | None:
    return LocationReport.objects.filter(pk=report_id).first()
