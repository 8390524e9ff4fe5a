from django.urls import path

from orgs import views

app_name = "invitations"
urlpatterns = [
    path("<str:token>/", views.InvitationOpenView.as_view(), name="open"),
]
