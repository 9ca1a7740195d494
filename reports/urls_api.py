from django.urls import path

from reports import api

urlpatterns = [
    path("reports/", api.ReportCollection.as_view(), name="api-reports"),
    path("reports/<str:tracking_id>/", api.ReportDetail.as_view(), name="api-report-detail"),
]
