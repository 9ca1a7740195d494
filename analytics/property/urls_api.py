from django.urls import path

from analytics.property import api, api_auth

urlpatterns = [
    path("property/lookup", api.PropertyLookup.as_view(), name="api-property-lookup"),
    path("property/reports", api.PropertyReportCreate.as_view(), name="api-property-reports"),
    path("property/reports/mine", api.PropertyReportsMine.as_view(), name="api-property-reports-mine"),
    path("property/reports/<int:report_id>", api.PropertyReportDetail.as_view(), name="api-property-report"),
    path(
        "property/reports/<int:report_id>/pdf",
        api.PropertyReportPdf.as_view(),
        name="api-property-report-pdf",
    ),
    path("property/addresses", api.PropertyAddresses.as_view(), name="api-property-addresses"),
    path("auth/register", api_auth.Register.as_view(), name="api-auth-register"),
    path("auth/token", api_auth.TokenObtain.as_view(), name="api-auth-token"),
    path("auth/token/refresh", api_auth.TokenRefresh.as_view(), name="api-auth-token-refresh"),
    path("auth/me", api_auth.AuthMe.as_view(), name="api-auth-me"),
]
