from django.urls import path

from orgs import security_views, views

app_name = "orgs"
urlpatterns = [
    path("", views.OrganizationListView.as_view(), name="list"),
    path("<slug:slug>/", views.OrganizationDetailView.as_view(), name="detail"),
    path("<slug:slug>/rename/", views.OrganizationRenameView.as_view(), name="rename"),
    path("<slug:slug>/security/", security_views.OrganizationSecurityPageView.as_view(), name="security"),
    path("<slug:slug>/switch/", views.OrganizationSwitchView.as_view(), name="switch"),
    path("<slug:slug>/invitations/", views.InvitationCreateView.as_view(), name="invite"),
    path(
        "<slug:slug>/invitations/<int:pk>/revoke/",
        views.InvitationActionView.as_view(),
        {"verb": "revoke"},
        name="invitation_revoke",
    ),
    path(
        "<slug:slug>/invitations/<int:pk>/resend/",
        views.InvitationActionView.as_view(),
        {"verb": "resend"},
        name="invitation_resend",
    ),
    path("<slug:slug>/members/<int:pk>/", views.MemberEditView.as_view(), name="member_edit"),
    path(
        "<slug:slug>/members/<int:pk>/remove/",
        views.MemberRemoveView.as_view(),
        name="member_remove",
    ),
]
