from django.urls import path

from platforms import pages

app_name = "platforms"
urlpatterns = [
    path("", pages.PlatformListView.as_view(), name="list"),
    path("<int:pk>/edit/", pages.PlatformEditView.as_view(), name="edit"),
    path("<int:pk>/delete/", pages.PlatformDeleteView.as_view(), name="delete"),
    path("<int:pk>/manager-api/", pages.ManagerApiView.as_view(), name="manager_api"),
    path("<int:pk>/manager-api/clear/", pages.ManagerApiClearView.as_view(), name="manager_api_clear"),
    path("<int:pk>/manager-api/test/", pages.ManagerApiTestView.as_view(), name="manager_api_test"),
    path("<int:pk>/report-db/", pages.ReportDbView.as_view(), name="report_db"),
    path("<int:pk>/report-db/clear/", pages.ReportDbClearView.as_view(), name="report_db_clear"),
    path("<int:pk>/report-db/test/", pages.ReportDbTestView.as_view(), name="report_db_test"),
    path("<int:pk>/report-db/accounts/", pages.ReportAccountsView.as_view(), name="report_accounts"),
    path("<int:pk>/report-db/trades/", pages.ReportTradesView.as_view(), name="report_trades"),
]
