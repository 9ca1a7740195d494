from django.urls import include, path

from analytics.location_reports import api as location_reports
from analytics.rules import api as rules
from analytics.scores import api as scores
from analytics.sla import api as sla

urlpatterns = [
    path("sla/policies/", sla.SlaPolicyList.as_view(), name="api-sla-policies"),
    path("sla/metrics/", sla.SlaMetricList.as_view(), name="api-sla-metrics"),
    path("issues/<int:issue_id>/sla/", sla.IssueSlaDetail.as_view(), name="api-issue-sla"),
    path("scores/", scores.ScoreLatest.as_view(), name="api-scores"),
    path("scores/trend/", scores.ScoreTrend.as_view(), name="api-scores-trend"),
    path("scores/rankings/", scores.ScoreRankings.as_view(), name="api-scores-rankings"),
    path("flags/", rules.FlagList.as_view(), name="api-flags"),
    path("location-reports/", location_reports.LocationReportCreate.as_view(), name="api-location-reports"),
    path(
        "location-reports/<int:report_id>/",
        location_reports.LocationReportDetail.as_view(),
        name="api-location-report",
    ),
    path(
        "location-reports/<int:report_id>/pdf/",
        location_reports.LocationReportPdf.as_view(),
        name="api-location-report-pdf",
    ),
    path("", include("analytics.property.urls_api")),
]
