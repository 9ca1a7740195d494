from django.urls import path

from analytics import views

urlpatterns = [
    path("accountability/", views.accountability, name="accountability"),
]
