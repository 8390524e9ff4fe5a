from django.urls import path

from orgs import platform_pages, views

app_name = "orgs"
urlpatterns = [
    path("", views.OrganizationListView.as_view(), name="list"),
    path("<slug:slug>/", views.OrganizationDetailView.as_view(), name="detail"),
    path("<slug:slug>/rename/", views.OrganizationRenameView.as_view(), name="rename"),
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
    path("<slug:slug>/platforms/", platform_pages.PlatformListView.as_view(), name="platforms"),
    path(
        "<slug:slug>/platforms/<int:pk>/edit/",
        platform_pages.PlatformEditView.as_view(),
        name="platform_edit",
    ),
    path(
        "<slug:slug>/platforms/<int:pk>/delete/",
        platform_pages.PlatformDeleteView.as_view(),
        name="platform_delete",
    ),
    path(
        "<slug:slug>/platforms/<int:pk>/manager-api/",
        platform_pages.ManagerApiView.as_view(),
        name="platform_manager_api",
    ),
    path(
        "<slug:slug>/platforms/<int:pk>/manager-api/clear/",
        platform_pages.ManagerApiClearView.as_view(),
        name="platform_manager_api_clear",
    ),
    path(
        "<slug:slug>/platforms/<int:pk>/manager-api/test/",
        platform_pages.ManagerApiTestView.as_view(),
        name="platform_manager_api_test",
    ),
    path(
        "<slug:slug>/platforms/<int:pk>/report-db/",
        platform_pages.ReportDbView.as_view(),
        name="platform_report_db",
    ),
    path(
        "<slug:slug>/platforms/<int:pk>/report-db/clear/",
        platform_pages.ReportDbClearView.as_view(),
        name="platform_report_db_clear",
    ),
    path(
        "<slug:slug>/platforms/<int:pk>/report-db/test/",
        platform_pages.ReportDbTestView.as_view(),
        name="platform_report_db_test",
    ),
    path(
        "<slug:slug>/platforms/<int:pk>/report-db/accounts/",
        platform_pages.ReportAccountsView.as_view(),
        name="platform_report_accounts",
    ),
    path(
        "<slug:slug>/platforms/<int:pk>/report-db/trades/",
        platform_pages.ReportTradesView.as_view(),
        name="platform_report_trades",
    ),
    path("<slug:slug>/clients/", platform_pages.ClientListView.as_view(), name="clients"),
    path(
        "<slug:slug>/clients/<int:pk>/rotate/",
        platform_pages.ClientRotateView.as_view(),
        name="client_rotate",
    ),
    path(
        "<slug:slug>/clients/<int:pk>/revoke/",
        platform_pages.ClientRevokeView.as_view(),
        name="client_revoke",
    ),
]
