"""The signal pages: sources and their routes, the feed of signals received (live), a decision's
trace, and the tester (what the parser reads in a message and, for a route, what it would do).

Thin views in the style of ``execution.web.pages``: parse the form, call one service, redirect with
a message (or re-render with the error on its field). Reading needs ``view_accounts``; changing a
source or a route ``manage_accounts``; posting a message live into a manual source ``trade``.
Another organization's ids are a 404. A webhook source's secret and URL token are shown once, in
the response to its creation or rotation, never stored in a session nor rendered again.
"""

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers

from core.errors import ServiceError
from execution.accounts.selectors import accounts_for
from execution.protection.selectors import steps_of as protection_steps_of
from execution.signals import intake, parsing, selectors, services
from execution.signals.models import Decision, SignalSource
from execution.signals.web.forms import (
    MessagePostForm,
    RouteForm,
    SignalTestForm,
    SourceCreateForm,
    SourceEditForm,
)
from orgs.views import OrganizationPageView, _form_error

FEED_PAGE_SIZE = 50


class SignalPageView(OrganizationPageView):
    """Reading needs ``view_accounts``, every change ``manage_accounts``."""

    required_permissions = {"get": "view_accounts", "post": "manage_accounts"}

    def context(self, **extra) -> dict:
        return {
            "organization": self.organization,
            "caller_permissions": self.caller_permissions,
            "can_manage": "manage_accounts" in self.caller_permissions,
            "can_trade": "trade" in self.caller_permissions,
            **extra,
        }

    def page(self, request, template, context, status=200):
        response = render(request, template, context, status=status)
        add_never_cache_headers(response)
        return response


def _prepare(signals, organization) -> None:
    """Set each signal's ``summary`` (its reading in one line) and ``decision.operation_rows`` on
    every decision of ``signals`` (one query)."""
    for signal in signals:
        signal.summary = selectors.reading_summary(signal.reading)
    decisions = [decision for signal in signals for decision in signal.decisions.all()]
    known = selectors.operations_by_id(decisions, organization=organization)
    for decision in decisions:
        decision.operation_rows = selectors.operations_of(decision, known)


# --- the feed ------------------------------------------------------------------------------------


class SignalFeedView(SignalPageView):
    def get(self, request, slug):
        sources = list(selectors.sources_of(self.organization))
        source = None
        if request.GET.get("source"):
            source = next((s for s in sources if str(s.pk) == request.GET["source"]), None)
        signals = selectors.signals_of(self.organization, source=source)
        page = Paginator(signals, FEED_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
        _prepare(rows, self.organization)
        context = self.context(
            sources=sources,
            source=source,
            page=page,
            signals=rows,
            ws_path=f"/ws/orgs/{self.organization.slug}/live/",
        )
        return self.page(request, "signals/feed.html", context)


class DecisionView(SignalPageView):
    def get(self, request, slug, pk):
        decision = selectors.decision_in(self.organization, pk)
        trace = decision.trace or []
        parsed = next((step.get("reading") for step in trace if step.get("reading")), None)
        context = self.context(
            decision=decision,
            signal=decision.signal,
            contract=parsed or decision.signal.reading,
            steps=trace,
            operations=selectors.operations_of(decision),
            protection_steps=protection_steps_of(decision.trade) if decision.trade else [],
            can_view_operations="view_operations" in self.caller_permissions,
        )
        return self.page(request, "signals/decision.html", context)


# --- sources -------------------------------------------------------------------------------------


class _SourcePage(SignalPageView):
    """A page rendering a source's detail (also after a form error, or with its new secrets)."""

    def render_for(
        self, request, pk, *, secrets=None, edit_form=None, route_form=None, post_form=None, status=200
    ):
        source = selectors.source_in(self.organization, pk)
        recent = list(selectors.signals_of(self.organization, source=source)[: selectors.RECENT_SIGNALS])
        _prepare(recent, self.organization)
        accounts = accounts_for(self.organization)
        context = self.context(
            source=source,
            secrets=secrets,
            webhook_url=request.build_absolute_uri(selectors.webhook_path(source))
            if source.kind == SignalSource.WEBHOOK
            else None,
            routes=selectors.routes_of(source),
            signals=recent,
            edit_form=edit_form or SourceEditForm(initial=SourceEditForm.initial_for(source)),
            route_form=route_form or RouteForm(accounts=accounts),
            has_accounts=accounts.exists(),
            post_form=post_form
            or (MessagePostForm(messages=recent) if source.kind == SignalSource.MANUAL else None),
        )
        if secrets:
            context["token_url"] = request.build_absolute_uri(secrets["url"])
        return self.page(request, "signals/source_detail.html", context, status=status)


class SourceListView(_SourcePage):
    def _render(self, request, form, status=200):
        context = self.context(sources=selectors.sources_of(self.organization), form=form)
        return self.page(request, "signals/source_list.html", context, status=status)

    def get(self, request, slug):
        return self._render(request, SourceCreateForm())

    def post(self, request, slug):
        form = SourceCreateForm(request.POST)
        if form.is_valid():
            try:
                source, secrets = services.source_create(
                    organization=self.organization, **form.service_arguments()
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                if secrets:  # shown in this response only
                    messages.success(request, f"Source {source.name} created.")
                    return self.render_for(request, source.pk, secrets=secrets)
                messages.success(request, f"Source {source.name} created: add a route to trade its signals.")
                return redirect("signals:source", slug=slug, pk=source.pk)
        return self._render(request, form, status=400)


class SourceDetailView(_SourcePage):
    def get(self, request, slug, pk):
        return self.render_for(request, pk)


class SourceEditView(_SourcePage):
    def post(self, request, slug, pk):
        source = selectors.source_in(self.organization, pk)
        form = SourceEditForm(request.POST)
        if form.is_valid():
            try:
                services.source_update(source=source, **form.cleaned_data)
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"Source {source.name} saved.")
                return redirect("signals:source", slug=slug, pk=pk)
        return self.render_for(request, pk, edit_form=form, status=400)


class SourceRotateView(_SourcePage):
    def post(self, request, slug, pk):
        source = selectors.source_in(self.organization, pk)
        try:
            secrets = services.source_rotate_secret(source=source)
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("signals:source", slug=slug, pk=pk)
        messages.success(request, "New credentials issued: the old secret and URL stop working now.")
        return self.render_for(request, pk, secrets=secrets)


class SourceDeleteView(SignalPageView):
    def post(self, request, slug, pk):
        source = selectors.source_in(self.organization, pk)
        services.source_delete(source=source)
        messages.success(request, f"Source {source.name} removed.")
        return redirect("signals:sources", slug=slug)


class MessagePostView(_SourcePage):
    """Post a message live into a manual source: its routes trade it. Needs ``trade``."""

    required_permissions = {"post": "trade"}

    def post(self, request, slug, pk):
        source = selectors.source_in(self.organization, pk)
        form = MessagePostForm(request.POST, messages=selectors.recent_messages(source))
        if form.is_valid():
            try:
                signal = services.message_post(source=source, **form.cleaned_data)
            except ServiceError as error:
                _form_error(form, error)
            else:
                if signal is None:
                    messages.info(request, "This message was received before.")
                else:
                    decided = signal.decisions.count()
                    messages.success(request, f"Message received: {decided} route(s) decided.")
                return redirect("signals:source", slug=slug, pk=pk)
        return self.render_for(request, pk, post_form=form, status=400)


# --- routes --------------------------------------------------------------------------------------


class RouteAddView(_SourcePage):
    def post(self, request, slug, pk):
        source = selectors.source_in(self.organization, pk)
        form = RouteForm(request.POST, accounts=accounts_for(self.organization))
        if form.is_valid():
            try:
                route = services.route_create(
                    organization=self.organization,
                    source=source,
                    account=form.cleaned_data["account"],
                    **form.service_arguments(),
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"{source.name} now routes to {route.account.name}.")
                return redirect("signals:source", slug=slug, pk=pk)
        return self.render_for(request, pk, route_form=form, status=400)


class RouteEditView(SignalPageView):
    def _render(self, request, route, form, status=200):
        return self.page(
            request, "signals/route_edit.html", self.context(route=route, form=form), status=status
        )

    def get(self, request, slug, pk):
        route = selectors.route_in(self.organization, pk)
        return self._render(request, route, RouteForm(initial=RouteForm.initial_for(route)))

    def post(self, request, slug, pk):
        route = selectors.route_in(self.organization, pk)
        form = RouteForm(request.POST)
        if form.is_valid():
            try:
                services.route_update(route=route, **form.service_arguments())
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"Route to {route.account.name} saved.")
                return redirect("signals:source", slug=slug, pk=route.source_id)
        return self._render(request, selectors.route_in(self.organization, pk), form, status=400)


class RouteDeleteView(SignalPageView):
    def post(self, request, slug, pk):
        route = selectors.route_in(self.organization, pk)
        services.route_delete(route=route)
        messages.success(request, f"Route to {route.account.name} removed.")
        return redirect("signals:source", slug=slug, pk=route.source_id)


# --- the tester ----------------------------------------------------------------------------------


def _dry_run_view(result: intake.DryRun) -> dict:
    """A dry run as the page shows it: the outcome's label, the step that stopped it, each planned
    operation's parameters as indented JSON."""
    stopping = next(
        (step for step in result.steps if step.get("result") in ("failed", "held", "waiting")), None
    )
    return {
        "outcome": result.outcome,
        "outcome_label": dict(Decision.OUTCOME_CHOICES).get(result.outcome, result.outcome),
        "code": result.code,
        "reason": result.reason,
        "steps": result.steps,
        "stopping": stopping,
        "operations": [
            {"kind": item["kind"], "params": json.dumps(item.get("params", {}), indent=2, default=str)}
            for item in result.operations
        ],
    }


class SignalTesterView(SignalPageView):
    """Paste a message (and the one it replies to) and see what the parser reads, as the API's
    ``signals/parse`` answers it; with a route chosen, also what the route would do (its dry run).
    Needs ``view_accounts`` to view and to test; testing stores nothing and places no trade."""

    required_permissions = {"get": "view_accounts", "post": "view_accounts"}

    def _routes(self):
        return selectors.routes_for(self.organization)

    def _render(self, request, form, *, reading=None, alert=None, dry_run=None, status=200):
        context = self.context(form=form, reading=reading, alert=alert, dry_run=dry_run)
        return render(request, "signals/tester.html", context, status=status)

    def get(self, request, slug):
        return self._render(request, SignalTestForm(routes=self._routes()))

    def post(self, request, slug):
        form = SignalTestForm(request.POST, routes=self._routes())
        if not form.is_valid():
            return self._render(request, form, status=400)
        text = form.cleaned_data["text"]
        reply_to = form.cleaned_data["reply_to"] or None
        route = form.cleaned_data["route"]
        options = None
        dry_run = None
        if route is not None:
            options = parsing.ParserOptions(keywords=route.keywords, aliases=route.aliases)
            dry_run = _dry_run_view(intake.dry_run(route=route, text=text, reply_to=reply_to))
        return self._render(
            request,
            form,
            reading=parsing.parse(text, reply_to=reply_to, options=options),
            alert=parsing.parse(reply_to, options=options) if reply_to else None,
            dry_run=dry_run,
        )
