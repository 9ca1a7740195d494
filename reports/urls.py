from django.urls import path

from reports import public_views, views

urlpatterns = [
    path("report/", views.report_new, name="report-new"),
    path("report/addresses/", views.address_suggest, name="report-addresses"),
    path("track/", views.report_track, name="report-search"),
    path("track/<str:tracking_id>/", views.report_track, name="report-track"),
    path("track/<str:tracking_id>/photo", views.report_photo, name="report-photo"),
    path("photos/<uuid:public_id>", views.report_public_photo, name="report-public-photo"),
    path("issues/", public_views.issues_public_view, name="issues-public"),
    path("issues/nearby/", public_views.issues_nearby_view, name="issues-nearby"),
    path("issues/markers/", public_views.issues_markers_view, name="issues-markers"),
    path("issues/<int:issue_id>/", public_views.issue_public_view, name="issue-public"),
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
