from django.urls import path

from analytics.dashboards import views

urlpatterns = [
    path("accountability/", views.accountability, name="accountability"),
]
