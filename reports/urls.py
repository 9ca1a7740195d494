from django.urls import path

from reports import views

urlpatterns = [
    path("report/", views.report_new, name="report-new"),
    path("track/", views.report_track, name="report-search"),
    path("track/<str:tracking_id>/", views.report_track, name="report-track"),
    path("track/<str:tracking_id>/photo", views.report_photo, name="report-photo"),
    path("photos/<uuid:public_id>", views.report_public_photo, name="report-public-photo"),
    path(
        "track/<str:tracking_id>/confirm/<str:token>",
        views.report_confirm_view,
        name="report-confirm",
    ),
    path(
        "track/<str:tracking_id>/unsubscribe/<str:token>",
        views.report_unsubscribe_view,
        name="report-unsubscribe",
    ),
]
