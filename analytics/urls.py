from django.urls import include, path

from analytics.dashboards import views

urlpatterns = [
    path("accountability/", views.accountability, name="accountability"),
    path("", include("analytics.property.urls")),
]
