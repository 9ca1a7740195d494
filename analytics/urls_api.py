from django.urls import path

from analytics import api

urlpatterns = [
    path("sla/policies/", api.SlaPolicyList.as_view(), name="api-sla-policies"),
    path("sla/metrics/", api.SlaMetricList.as_view(), name="api-sla-metrics"),
    path("issues/<int:issue_id>/sla/", api.IssueSlaDetail.as_view(), name="api-issue-sla"),
]
