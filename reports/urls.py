from django.urls import path

from reports import views

urlpatterns = [
    path("report/", views.report_new, name="report-new"),
    path("track/", views.report_track, name="report-search"),
    path("track/<str:tracking_id>/", views.report_track, name="report-track"),
    path("track/<str:tracking_id>/photo", views.report_photo, name="report-photo"),
    path(
        "track/<str:tracking_id>/unsubscribe/<str:token>",
        views.report_unsubscribe_view,
        name="report-unsubscribe",
    ),
]
