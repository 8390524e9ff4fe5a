"""Health and metrics routes, at the site's root (mounted by ``ttmt_site.urls``)."""

from django.urls import path

from observability import views

app_name = "observability"
urlpatterns = [
    path("health/live", views.live, name="live"),
    path("health/ready", views.ready, name="ready"),
    path("metrics", views.metrics, name="metrics"),
]
