"""The admin composition root. The issue pages are issues' IssueAdmin with what other apps
add to them: their reports, merging and undo (reports), the SLA columns, filters,
deadlines and pause buttons, and the location-report button (analytics). Each comes as a
mixin that registers nothing and adds to IssueAdmin through super(); Issue is registered
here, once, so no app re-registers another app's admin and `issues` imports neither
`reports` nor `analytics`. The mixins' order is the order of what they append to the
page (the location-report button after the SLA deadlines)."""

from django.contrib import admin

from analytics.location_reports.issue_admin import LocationReportIssueAdminMixin
from analytics.sla.issue_admin import SlaIssueAdminMixin
from issues.admin import IssueAdmin
from issues.models import Issue
from reports.issue_admin import IssueReportsAdminMixin


@admin.register(Issue)
class StaffIssueAdmin(LocationReportIssueAdminMixin, SlaIssueAdminMixin, IssueReportsAdminMixin, IssueAdmin):
    """The staff console's issue pages."""
