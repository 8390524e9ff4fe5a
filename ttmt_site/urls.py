from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from execution.signals.web.webhook import signal_webhook
from execution.web.dashboard import DashboardView

api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("orgs/", include("execution.web.api.urls")),
    path("orgs/", include("execution.signals.web.api_urls")),
    path("orgs/", include("execution.protection.web.api_urls")),
    path("orgs/", include("platforms.api.urls")),
    path("orgs/", include("clients.api.urls")),
    path("orgs/", include("audit.api.urls")),
    path("orgs/", include("orgs.api.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="orgs:list", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("orgs/<slug:slug>/live/", DashboardView.as_view(), name="dashboard"),
    path("orgs/<slug:slug>/accounts/", include("execution.web.urls")),
    path("orgs/<slug:slug>/signals/", include("execution.signals.web.urls")),
    path("orgs/<slug:slug>/platforms/", include("platforms.urls")),
    path("orgs/<slug:slug>/clients/", include("clients.urls")),
    path("orgs/<slug:slug>/audit/", include("audit.urls")),
    path("orgs/", include("orgs.urls")),
    path("invitations/", include("orgs.invitation_urls")),
    path("api/v1/", include((api_v1, "api"))),
    path("hooks/signals/<uuid:public_id>/", signal_webhook, name="signal-webhook"),
    path("hooks/signals/<uuid:public_id>/<str:url_token>/", signal_webhook, name="signal-webhook-token"),
    path("", include("observability.urls")),
]

# Under /api/ Django's own errors use the API's one error shape too; elsewhere its pages.
handler400 = "ttmt_site.api_errors.bad_request"
handler404 = "ttmt_site.api_errors.page_not_found"
handler500 = "ttmt_site.api_errors.server_error"
