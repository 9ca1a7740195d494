"""The location-report part of the staff console's issue page: a button that generates a
report on the issue's location, and its view. A mixin that registers nothing:
civicpulse/admin.py composes it with the issue admin, so `issues` never imports
`analytics`."""

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from analytics.location_reports.places import location_of_issue
from analytics.location_reports.services import location_report_create
from civicpulse.core.admin import acting_user
from issues.models import Issue

# The Django permission that lets staff generate a location report from an issue's page.
LOCATION_REPORT_GENERATE = "analytics.add_locationreport"

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _IssueAdminBase = ModelAdmin[Issue]
else:
    _IssueAdminBase = object  # a mixin: the issue admin it is composed with comes after it


class LocationReportIssueAdminMixin(_IssueAdminBase):
    """Adds to the issue admin it is mixed into (cooperating through super()): the
    "Location report" button of the issue page and the URL it posts to."""

    def get_fields(self, request: HttpRequest, obj: Issue | None = None) -> tuple:
        return (*super().get_fields(request, obj), "location_report")

    def get_readonly_fields(self, request: HttpRequest, obj: Issue | None = None) -> tuple:
        return (*super().get_readonly_fields(request, obj), "location_report")

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:issue_id>/location-report/",
                self.admin_site.admin_view(self.location_report_view),
                name="issues_issue_location_report",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="location report")
    def location_report(self, issue: Issue) -> str:
        # A button of the page's form pointed at its own URL, so no form is nested.
        return format_html(
            '<button type="submit" formaction="{}" formmethod="post" name="_location_report" value="1">'
            "Location report</button> <small>The record of this issue's address: issues, reports, SLA, flags and "
            "the area's score, stored, with its PDF.</small>",
            reverse("admin:issues_issue_location_report", args=[issue.pk]),
        )

    def location_report_view(self, request: HttpRequest, issue_id: int) -> HttpResponse:
        issue = get_object_or_404(Issue, pk=issue_id)
        # Generating writes a stored report (and may call the model): a staff member who
        # may only look at issues may not, whatever the button's URL.
        if (
            request.method != "POST"
            or not self.has_view_permission(request, issue)
            or not request.user.has_perm(LOCATION_REPORT_GENERATE)
        ):
            raise PermissionDenied
        location = location_of_issue(issue=issue)
        if location is None:
            self.message_user(
                request,
                "This issue has no known location: no address on record and no known "
                "location within 50 m of its point.",
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:issues_issue_change", args=[issue.pk]))
        report = location_report_create(
            request={"location": location.pk, "issue": issue.pk}, actor=acting_user(request)
        )
        self.message_user(
            request, f"Location report {report.pk} generated for {location.address}.", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:analytics_locationreport_change", args=[report.pk]))
