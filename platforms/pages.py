"""Server-rendered pages for trade platforms, their credentials and report databases.

Thin views in the style of ``orgs.views``: parse the form, call the service, redirect with a message
(or re-render with the error on its field). Passwords are write-only: no page ever renders one.
A client secret exists only in the response to the POST that created or rotated it.
Views that receive or use a password hide it from Django's error reports: the posted password and
every local variable below the view (``CREDENTIAL_SAFE``).
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from core.errors import ServiceError
from orgs.views import OrganizationPageView, _form_error
from platforms import report_db, selectors, services
from platforms.forms import ManagerApiForm, PlatformForm, ReportDbForm, ReportPageForm, TradeFilterForm

REPORT_PAGE_SIZE = 50

# for a view class: error reports show neither a posted password nor any local variable of the
# frames below its dispatch (the password travels through forms, services and the MySQL driver)
CREDENTIAL_SAFE = method_decorator(
    [sensitive_post_parameters("password"), sensitive_variables()], name="dispatch"
)

CHECK_LABELS = {
    "ok": "OK",
    "unreachable": "Unreachable",
    "authentication_failed": "Authentication failed",
    "database_missing": "Database missing",
    "tables_missing": "Tables missing",
    "error": "Error",
    "address_not_allowed": "Address not allowed",
}


class PlatformPageView(OrganizationPageView):
    """Platform pages: reading needs ``view_platforms``, every change ``manage_platforms``."""

    required_permissions = {"get": "view_platforms", "post": "manage_platforms"}

    def get_platform(self, pk):
        """The organization's platform with this id; another organization's id is a 404."""
        return get_object_or_404(selectors.platforms_for(self.organization), pk=pk)

    def context(self, **extra) -> dict:
        return {
            "organization": self.organization,
            "caller_permissions": self.caller_permissions,
            "can_manage": "manage_platforms" in self.caller_permissions,
            **extra,
        }


# --- platforms ------------------------------------------------------------------------------------


class PlatformListView(PlatformPageView):
    def _render(self, request, form, status=200):
        context = self.context(platforms=selectors.platforms_for(self.organization), form=form)
        return render(request, "platforms/platform_list.html", context, status=status)

    def get(self, request, slug):
        return self._render(request, PlatformForm())

    def post(self, request, slug):
        form = PlatformForm(request.POST)
        if form.is_valid():
            try:
                platform = services.platform_create(organization=self.organization, **form.cleaned_data)
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"Platform {platform.name} added.")
                return redirect("platforms:list", slug=slug)
        return self._render(request, form, status=400)


class PlatformEditView(PlatformPageView):
    def _render(self, request, platform, form, status=200):
        context = self.context(platform=platform, form=form)
        return render(request, "platforms/platform_edit.html", context, status=status)

    def get(self, request, slug, pk):
        platform = self.get_platform(pk)
        return self._render(request, platform, PlatformForm(initial=PlatformForm.initial_for(platform)))

    def post(self, request, slug, pk):
        platform = self.get_platform(pk)
        form = PlatformForm(request.POST)
        if form.is_valid():
            try:
                services.platform_update(platform=platform, **form.cleaned_data)
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"Platform {platform.name} saved.")
                return redirect("platforms:list", slug=slug)
        platform.refresh_from_db()  # show the stored name, not the refused one
        return self._render(request, platform, form, status=400)


class PlatformDeleteView(PlatformPageView):
    required_permissions = {"post": "manage_platforms"}

    def post(self, request, slug, pk):
        platform = self.get_platform(pk)
        services.platform_delete(platform=platform)
        messages.success(request, f"Platform {platform.name} deleted.")
        return redirect("platforms:list", slug=slug)


# --- credentials (the "API" and "DB" buttons) -----------------------------------------------------


def _summary(credentials, fields) -> dict | None:
    """What the pages show of stored credentials: the fields, whether a password is stored, never it."""
    if credentials is None:
        return None
    return {
        **{name: getattr(credentials, name) for name in fields},
        "password_set": bool(credentials.password),
        "updated_at": credentials.updated_at,
    }


@CREDENTIAL_SAFE
class _CredentialsView(PlatformPageView):
    """GET shows the credentials (never the password), POST saves them."""

    related: str
    form_class: type
    template_name: str
    setter = None
    clearer = None
    checker = None
    url_name: str
    label: str

    def render_page(self, request, platform, *, form=None, check=None, status=200):
        credentials = getattr(platform, self.related, None)
        form = form or self.form_class(initial=self.form_class.initial_for(credentials))
        context = self.context(
            platform=platform,
            credentials=_summary(credentials, self.form_class.credential_fields),
            form=form,
            check=check,
            check_label=CHECK_LABELS.get(str(check.status), str(check.status)) if check else None,
        )
        response = render(request, self.template_name, context, status=status)
        add_never_cache_headers(response)
        return response

    def get(self, request, slug, pk):
        return self.render_page(request, self.get_platform(pk))

    def post(self, request, slug, pk):
        platform = self.get_platform(pk)
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                self.setter(
                    platform=platform, actor=request.user, request=request, **form.service_arguments()
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"{self.label} credentials of {platform.name} saved.")
                return redirect(self.url_name, slug=slug, pk=platform.pk)
        return self.render_page(request, platform, form=form, status=400)


class _CredentialsClearView(_CredentialsView):
    required_permissions = {"post": "manage_platforms"}

    def post(self, request, slug, pk):
        platform = self.get_platform(pk)
        self.clearer(platform=platform, actor=request.user, request=request)
        messages.success(request, f"{self.label} credentials of {platform.name} cleared.")
        return redirect(self.url_name, slug=slug, pk=platform.pk)


class _CredentialsTestView(_CredentialsView):
    """ "Test connection": the page again, with the outcome. A change-free POST, yet it reaches out
    to a host with the stored secret, so it takes ``manage_platforms`` like every POST here."""

    required_permissions = {"post": "manage_platforms"}

    def post(self, request, slug, pk):
        platform = self.get_platform(pk)
        try:
            check = self.checker(platform=platform)
        except services.NotConfigured as error:
            messages.error(request, error.message)
            return redirect(self.url_name, slug=slug, pk=platform.pk)
        except services.ConnectionTestsThrottled as error:
            messages.error(request, error.message)
            return self.render_page(request, platform, status=429)
        return self.render_page(request, platform, check=check)


class _ManagerApi:
    related = "manager_api"
    form_class = ManagerApiForm
    template_name = "platforms/manager_api.html"
    setter = staticmethod(services.manager_api_set)
    clearer = staticmethod(services.manager_api_clear)
    checker = staticmethod(services.manager_api_check)
    url_name = "platforms:manager_api"
    label = "Manager API"


class _ReportDb:
    related = "report_db"
    form_class = ReportDbForm
    template_name = "platforms/report_db.html"
    setter = staticmethod(services.report_db_set)
    clearer = staticmethod(services.report_db_clear)
    checker = staticmethod(services.report_db_check)
    url_name = "platforms:report_db"
    label = "Report database"


class ManagerApiView(_ManagerApi, _CredentialsView):
    pass


class ManagerApiClearView(_ManagerApi, _CredentialsClearView):
    pass


class ManagerApiTestView(_ManagerApi, _CredentialsTestView):
    pass


class ReportDbView(_ReportDb, _CredentialsView):
    pass


class ReportDbClearView(_ReportDb, _CredentialsClearView):
    pass


class ReportDbTestView(_ReportDb, _CredentialsTestView):
    pass


# --- report database contents ---------------------------------------------------------------------


@CREDENTIAL_SAFE
class _ReportReadView(PlatformPageView):
    """A page of the platform's report database; its failures are shown, never raised."""

    required_permissions = {"get": "view_platforms"}
    form_class = ReportPageForm
    template_name: str

    def read(self, params, form):
        raise NotImplementedError

    def get(self, request, slug, pk):
        platform = self.get_platform(pk)
        form = self.form_class(request.GET)
        context = self.context(platform=platform, form=form, page=None, error=None, not_configured=False)
        if form.is_valid():
            try:
                context["page"] = self.read(services.report_db_params(platform), form)
            except services.NotConfigured as error:
                context.update(not_configured=True, error=error.message)
            except report_db.ReportDbError as error:
                context["error"] = error.message
        status = 200 if form.is_valid() else 400
        return render(request, self.template_name, context, status=status)


class ReportAccountsView(_ReportReadView):
    template_name = "platforms/report_accounts.html"

    def read(self, params, form):
        return report_db.list_accounts(params, page=form.page_number(), page_size=REPORT_PAGE_SIZE)


class ReportTradesView(_ReportReadView):
    form_class = TradeFilterForm
    template_name = "platforms/report_trades.html"

    def read(self, params, form):
        return report_db.list_trades(params, page_size=REPORT_PAGE_SIZE, **form.query())


# --- API clients ----------------------------------------------------------------------------------
