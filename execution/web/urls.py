from django.urls import path

from execution.web import pages

app_name = "execution"
urlpatterns: list = [
    path("", pages.AccountListView.as_view(), name="accounts"),
    path("<int:pk>/", pages.AccountDetailView.as_view(), name="account"),
    path("<int:pk>/edit/", pages.AccountEditView.as_view(), name="account_edit"),
    path("<int:pk>/remove/", pages.AccountRemoveView.as_view(), name="account_remove"),
    path("<int:pk>/reconnect/", pages.AccountReconnectView.as_view(), name="account_reconnect"),
    path("<int:pk>/overrides/", pages.OverrideAddView.as_view(), name="override_add"),
    path(
        "<int:pk>/overrides/<int:override_pk>/delete/",
        pages.OverrideDeleteView.as_view(),
        name="override_delete",
    ),
    path("<int:pk>/faults/", pages.FaultsView.as_view(), name="account_faults"),
    path(
        "<int:pk>/operations/<int:operation_pk>/cancel/",
        pages.OperationCancelView.as_view(),
        name="operation_cancel",
    ),
]
