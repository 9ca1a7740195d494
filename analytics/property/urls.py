from django.urls import path

from analytics.property import views

urlpatterns = [
    path("property/", views.dashboard, name="property-dashboard"),
    path("property/signup/", views.signup, name="property-signup"),
    path("property/signin/", views.signin, name="property-signin"),
    path("property/signout/", views.signout, name="property-signout"),
    path("property/search/", views.search, name="property-search"),
    path("property/reports/new/", views.report_new, name="property-report-new"),
    path("property/reports/<int:report_id>/", views.report, name="property-report"),
    path("property/reports/<int:report_id>/pdf/", views.report_pdf, name="property-report-pdf"),
    path("property/account/", views.account, name="property-account"),
]
