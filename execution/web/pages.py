"""Server-rendered pages for trading accounts: connect, follow, symbols and their mapping, faults.

Thin views in the style of ``orgs.views``: parse the form, call one service, redirect with a message
(or re-render with the error on its field). Reading needs ``view_accounts``, every POST
``manage_accounts``; another organization's account id is a 404. The MetaTrader password is
write-only: no page ever renders it back.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers

from core.errors import ServiceError
from execution.accounts import selectors, services
from execution.accounts.models import SymbolOverride, TradingAccount
from execution.accounts.symbols import SymbolError
from execution.broker import faults as fault_injection
from execution.broker.gateways.base import GatewayError
from execution.broker.registry import connector_for
from execution.orders import accept
from execution.orders import selectors as order_selectors
from execution.orders.models import Operation
from execution.safety import selectors as safety_selectors
from execution.web.forms import (
    SERVER_DATALIST_ID,
    AccountConnectForm,
    AccountEditForm,
    FaultSettingsForm,
    ReconnectForm,
    SymbolOverrideForm,
    SymbolResolveForm,
)
from orgs.views import OrganizationPageView, _form_error
from platforms.models import TradePlatform
from platforms.selectors import platforms_for


class AccountPageView(OrganizationPageView):
    """Account pages: reading needs ``view_accounts``, every change ``manage_accounts``."""

    required_permissions = {"get": "view_accounts", "post": "manage_accounts"}

    def get_account(self, pk) -> TradingAccount:
        return selectors.account_in(self.organization, pk)

    def context(self, **extra) -> dict:
        return {
            "organization": self.organization,
            "caller_permissions": self.caller_permissions,
            "can_manage": "manage_accounts" in self.caller_permissions,
            **extra,
        }

    def page(self, request, template, context, status=200):
        response = render(request, template, context, status=status)
        add_never_cache_headers(response)
        return response


# --- list and connect -----------------------------------------------------------------------------


def _server_hints(platforms) -> tuple[list[tuple[TradePlatform, list[str]]], list[str]]:
    """Each platform's trade servers (its venue's own when it lists none), and all of them."""
    hints = []
    for platform in platforms:
        servers = list(platform.servers) or list(connector_for(platform).known_servers())
        hints.append((platform, servers))
    every = sorted({server for _, servers in hints for server in servers})
    return hints, every


class AccountListView(AccountPageView):
    def _render(self, request, form, status=200):
        accounts = selectors.accounts_for(self.organization)
        platforms = list(platforms_for(self.organization))
        server_hints, all_servers = _server_hints(platforms)
        context = self.context(
            accounts=accounts,
            form=form,
            has_platforms=bool(platforms),
            first_account=not accounts.exists(),
            server_hints=server_hints,
            all_servers=all_servers,
            server_datalist_id=SERVER_DATALIST_ID,
        )
        return self.page(request, "execution/account_list.html", context, status=status)

    def get(self, request, slug):
        form = AccountConnectForm(
            organization=self.organization,
            initial={"type": services.suggested_account_type(self.organization)},
        )
        return self._render(request, form)

    def post(self, request, slug):
        form = AccountConnectForm(request.POST, organization=self.organization)
        if form.is_valid():
            try:
                account = services.account_connect(organization=self.organization, **form.service_arguments())
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"Connecting {account.name}: this takes a few seconds.")
                return redirect("execution:account", slug=slug, pk=account.pk)
        return self._render(request, form, status=400)


# --- one account ----------------------------------------------------------------------------------


class AccountDetailView(AccountPageView):
    def get(self, request, slug, pk):
        return self.render_detail(request, self.get_account(pk))

    def _broker_reads(self, account) -> dict:
        if not account.is_set_up:
            return {"broker_read": False}
        reads = {"broker_read": True, "positions": None, "orders": None, "broker_error": None}
        try:
            reads["positions"] = selectors.broker_positions(account)
            reads["orders"] = selectors.broker_orders(account)
        except GatewayError as error:
            reads["broker_error"] = error.message
        return reads

    def _resolution(self, request, account) -> dict:
        if "symbol" not in request.GET:
            return {"resolve_form": SymbolResolveForm(), "resolution": None, "resolve_error": None}
        form = SymbolResolveForm(request.GET)
        resolution = resolve_error = None
        if form.is_valid():
            try:
                resolution = services.symbol_resolve(account=account, name=form.cleaned_data["symbol"])
            except SymbolError as error:
                resolve_error = str(error)
        return {"resolve_form": form, "resolution": resolution, "resolve_error": resolve_error}

    def _faults(self, account, fault_form) -> dict:
        if not fault_injection.supports_faults(account.platform):
            return {"simulated": False}
        try:
            faults = fault_injection.simulated_faults(account=account)
        except ServiceError as error:
            return {"simulated": True, "faults": None, "faults_error": error.message}
        return {
            "simulated": True,
            "faults": faults,
            "faults_error": None,
            "fault_form": fault_form or FaultSettingsForm(initial=FaultSettingsForm.initial_for(faults)),
        }

    def _safety(self, account) -> dict:
        if "view_operations" not in self.caller_permissions:
            return {"safety": None}
        return {
            "safety": safety_selectors.account_safety(account),
            "operations": order_selectors.operations_of(account)[:20],
            "can_cancel": "trade" in self.caller_permissions,
            "cancellable": Operation.PENDING,
        }

    def render_detail(
        self,
        request,
        account,
        *,
        edit_form=None,
        reconnect_form=None,
        override_form=None,
        fault_form=None,
        status=200,
    ):
        symbols = list(selectors.account_symbols(account))
        symbol_names = [symbol.name for symbol in symbols]
        context = self.context(
            account=account,
            symbols=symbols,
            overrides=account.symbol_overrides.all(),
            edit_form=edit_form or AccountEditForm(initial=AccountEditForm.initial_for(account)),
            reconnect_form=reconnect_form or ReconnectForm(),
            can_reconnect=account.connection_state in (TradingAccount.ERROR, TradingAccount.DISCONNECTED),
            override_form=override_form or SymbolOverrideForm(symbol_names=symbol_names),
            **self._broker_reads(account),
            **self._resolution(request, account),
            **self._faults(account, fault_form),
            **self._safety(account),
        )
        return self.page(request, "execution/account_detail.html", context, status=status)


class AccountEditView(AccountDetailView):
    required_permissions = {"post": "manage_accounts"}

    def post(self, request, slug, pk):
        account = self.get_account(pk)
        form = AccountEditForm(request.POST)
        if form.is_valid():
            services.account_update(account=account, **form.cleaned_data)
            messages.success(request, f"Account {account.name} saved.")
            return redirect("execution:account", slug=slug, pk=account.pk)
        return self.render_detail(request, account, edit_form=form, status=400)


class AccountRemoveView(AccountPageView):
    required_permissions = {"post": "manage_accounts"}

    def post(self, request, slug, pk):
        account = self.get_account(pk)
        services.account_remove(account=account)
        messages.success(request, f"Account {account.name} removed.")
        return redirect("execution:accounts", slug=slug)


class AccountReconnectView(AccountDetailView):
    required_permissions = {"post": "manage_accounts"}

    def post(self, request, slug, pk):
        account = self.get_account(pk)
        form = ReconnectForm(request.POST)
        if form.is_valid():
            try:
                services.account_reconnect(
                    account=account,
                    password=form.cleaned_data["password"],
                    actor=request.user,
                    request=request,
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"Reconnecting {account.name}.")
                return redirect("execution:account", slug=slug, pk=account.pk)
        return self.render_detail(request, account, reconnect_form=form, status=400)


class OperationCancelView(AccountPageView):
    """Cancel an operation that waits (it is never sent): needs ``trade``."""

    required_permissions = {"post": "trade"}

    def post(self, request, slug, pk, operation_pk):
        account = self.get_account(pk)
        operation = get_object_or_404(order_selectors.operations_of(account), pk=operation_pk)
        try:
            accept.operation_cancel(operation=operation, requested_by=str(request.user))
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Operation #{operation.pk} cancelled: it will not be sent.")
        return redirect("execution:account", slug=slug, pk=account.pk)


# --- symbol overrides -----------------------------------------------------------------------------


class OverrideAddView(AccountDetailView):
    required_permissions = {"post": "manage_accounts"}

    def post(self, request, slug, pk):
        account = self.get_account(pk)
        names = list(selectors.account_symbols(account).values_list("name", flat=True))
        form = SymbolOverrideForm(request.POST, symbol_names=names)
        if form.is_valid():
            try:
                override = services.symbol_override_set(account=account, **form.cleaned_data)
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"{override.alias} now maps to {override.broker_symbol}.")
                return redirect("execution:account", slug=slug, pk=account.pk)
        return self.render_detail(request, account, override_form=form, status=400)


class OverrideDeleteView(AccountPageView):
    required_permissions = {"post": "manage_accounts"}

    def post(self, request, slug, pk, override_pk):
        account = self.get_account(pk)
        override = get_object_or_404(SymbolOverride, account=account, pk=override_pk)
        services.symbol_override_delete(override=override)
        messages.success(request, f"Override {override.alias} removed.")
        return redirect("execution:account", slug=slug, pk=account.pk)


# --- simulated broker fault injection ------------------------------------------------------------


class FaultsView(AccountDetailView):
    required_permissions = {"post": "manage_accounts"}

    def post(self, request, slug, pk):
        account = self.get_account(pk)
        form = FaultSettingsForm(request.POST)
        if form.is_valid():
            try:
                fault_injection.simulated_faults_set(account=account, **form.service_arguments())
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"Fault settings of {account.name} saved.")
                return redirect("execution:account", slug=slug, pk=account.pk)
        return self.render_detail(request, account, fault_form=form, status=400)
