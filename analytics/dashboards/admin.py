"""The staff console's history of score runs (read-only), and the accountability
dashboard under it (`admin:analytics_dashboard`): the runs are what the dashboard shows."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from analytics.dashboards.views import staff_dashboard, staff_markers
from analytics.scores.models import ScoreRun
from civicpulse.core.admin import TenantAdmin


@admin.register(ScoreRun)
class ScoreRunAdmin(TenantAdmin):
    """The history of computations (read-only), and the staff dashboard under it."""

    list_display = ("window_end", "window_start", "compliance_weight", "min_resolved", "duration_ms")
    date_hierarchy = "window_end"
    change_list_template = "admin/analytics/scorerun/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="analytics_dashboard"),
            path(
                "dashboard/markers/",
                self.admin_site.admin_view(self.markers_view),
                name="analytics_dashboard_markers",
            ),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return staff_dashboard(request, self.admin_site.each_context(request))

    def markers_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return staff_markers(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ScoreRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ScoreRun | None = None) -> bool:
        # The public trend is drawn from every run's snapshots: a run is history, kept.
        return False
