from django.urls import path

from execution.signals.web import pages

app_name = "signals"
urlpatterns = [
    path("tester/", pages.SignalTesterView.as_view(), name="tester"),
]
