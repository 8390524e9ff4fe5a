from django.urls import path

from audit import pages

app_name = "audit"
urlpatterns = [
    path("", pages.AuditLogView.as_view(), name="log"),
]
