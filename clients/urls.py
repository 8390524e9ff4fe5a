from django.urls import path

from clients import pages

app_name = "clients"
urlpatterns = [
    path("", pages.ClientListView.as_view(), name="list"),
    path("<int:pk>/rotate/", pages.ClientRotateView.as_view(), name="rotate"),
    path("<int:pk>/revoke/", pages.ClientRevokeView.as_view(), name="revoke"),
]
