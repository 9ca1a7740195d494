from django.urls import path

from analytics import api

urlpatterns = [
    path("sla/policies/", api.SlaPolicyList.as_view(), name="api-sla-policies"),
    path("sla/metrics/", api.SlaMetricList.as_view(), name="api-sla-metrics"),
    path("issues/<int:issue_id>/sla/", api.IssueSlaDetail.as_view(), name="api-issue-sla"),
    path("scores/", api.ScoreLatest.as_view(), name="api-scores"),
    path("scores/trend/", api.ScoreTrend.as_view(), name="api-scores-trend"),
    path("scores/rankings/", api.ScoreRankings.as_view(), name="api-scores-rankings"),
    path("flags/", api.FlagList.as_view(), name="api-flags"),
    path("location-reports/", api.LocationReportCreate.as_view(), name="api-location-reports"),
    path("location-reports/<int:report_id>/", api.LocationReportDetail.as_view(), name="api-location-report"),
    path("location-reports/<int:report_id>/pdf/", api.LocationReportPdf.as_view(), name="api-location-report-pdf"),
]
