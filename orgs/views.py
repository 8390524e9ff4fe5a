"""Server-rendered pages for organizations, members and invitations."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View

from accounts.services import email_is_registered
from core.errors import ServiceError
from orgs import permissions as perms
from orgs import selectors, services
from orgs.forms import InvitationForm, OrganizationForm, PermissionsForm
from orgs.models import Invitation, Membership


def _form_error(form, error: ServiceError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


class OrganizationListView(LoginRequiredMixin, View):
    def get(self, request):
        return render(request, "orgs/organization_list.html", {"form": OrganizationForm()})

    def post(self, request):
        form = OrganizationForm(request.POST)
        if form.is_valid():
            organization = services.organization_create(creator=request.user, name=form.cleaned_data["name"])
            request.session["current_organization"] = organization.slug
            messages.success(request, f"Organization {organization.name} created.")
            return redirect("orgs:detail", slug=organization.slug)
        return render(request, "orgs/organization_list.html", {"form": form}, status=400)


class OrganizationPageView(LoginRequiredMixin, View):
    """Resolves the organization (404 for non-members) and the caller's permissions once;
    subclasses declare the permission each HTTP method needs."""

    required_permissions: dict[str, str] = {"get": "view_organization"}

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.organization = selectors.organization_for_member(user=request.user, slug=kwargs["slug"])
        if self.organization is None:
            raise Http404
        self.caller_permissions = selectors.organization_permissions(
            user=request.user, organization=self.organization
        )
        needed = self.required_permissions.get(request.method.lower())
        if needed is None or needed not in self.caller_permissions:
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def render_detail(self, request, *, rename_form=None, invite_form=None, status=200):
        context = {
            "organization": self.organization,
            "caller_permissions": self.caller_permissions,
            "members": selectors.members_with_permissions(self.organization),
            "invitations": selectors.invitations_for(self.organization),
            "rename_form": rename_form or OrganizationForm(initial={"name": self.organization.name}),
            "invite_form": invite_form or InvitationForm(),
            "permission_labels": perms.PERMISSIONS,
        }
        return render(request, "orgs/organization_detail.html", context, status=status)


class OrganizationDetailView(OrganizationPageView):
    def get(self, request, slug):
        request.session["current_organization"] = slug
        return self.render_detail(request)


class OrganizationRenameView(OrganizationPageView):
    required_permissions = {"post": "change_organization"}

    def post(self, request, slug):
        form = OrganizationForm(request.POST)
        if form.is_valid():
            services.organization_rename(organization=self.organization, name=form.cleaned_data["name"])
            messages.success(request, "Organization renamed.")
            return redirect("orgs:detail", slug=slug)
        return self.render_detail(request, rename_form=form, status=400)


class OrganizationSwitchView(OrganizationPageView):
    required_permissions = {"post": "view_organization"}

    def post(self, request, slug):
        request.session["current_organization"] = slug
        return redirect("orgs:detail", slug=slug)


class InvitationCreateView(OrganizationPageView):
    required_permissions = {"post": "manage_members"}

    def post(self, request, slug):
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                invitation = services.invitation_create(
                    organization=self.organization,
                    invited_by=request.user,
                    request=request,
                    email=form.cleaned_data["email"],
                    **form.service_arguments(),
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("orgs:detail", slug=slug)
        return self.render_detail(request, invite_form=form, status=400)


class InvitationActionView(OrganizationPageView):
    required_permissions = {"post": "manage_members"}

    def post(self, request, slug, pk, verb):
        invitation = get_object_or_404(Invitation, organization=self.organization, pk=pk)
        try:
            if verb == "revoke":
                services.invitation_revoke(invitation=invitation, actor=request.user, request=request)
            else:
                services.invitation_resend(invitation=invitation)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Invitation to {invitation.email}: {verb} done.")
        return redirect("orgs:detail", slug=slug)


class MemberEditView(OrganizationPageView):
    required_permissions = {"get": "manage_members", "post": "manage_members"}

    def _member(self, pk):
        rows = selectors.members_with_permissions(self.organization, membership_id=pk)
        if not rows:
            raise Http404
        return rows[0]

    def _render(self, request, membership, form, status=200):
        return render(
            request,
            "orgs/member_edit.html",
            {"organization": self.organization, "membership": membership, "form": form},
            status=status,
        )

    def get(self, request, slug, pk):
        membership, held = self._member(pk)
        form = PermissionsForm(initial={"role": membership.role, "permissions": sorted(held)})
        return self._render(request, membership, form)

    def post(self, request, slug, pk):
        membership, _ = self._member(pk)
        form = PermissionsForm(request.POST)
        if form.is_valid():
            try:
                services.membership_update(
                    actor=request.user, membership=membership, request=request, **form.service_arguments()
                )
            except ServiceError as error:
                _form_error(form, error)
            else:
                messages.success(request, f"Permissions of {membership.user.email} saved.")
                return redirect("orgs:detail", slug=slug)
        return self._render(request, membership, form, status=400)


class MemberRemoveView(OrganizationPageView):
    required_permissions = {"post": "manage_members"}

    def post(self, request, slug, pk):
        membership = get_object_or_404(Membership, organization=self.organization, pk=pk)
        try:
            services.membership_remove(actor=request.user, membership=membership, request=request)
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("orgs:detail", slug=slug)
        messages.success(request, f"{membership.user.email} removed.")
        if membership.user_id == request.user.id:
            return redirect("orgs:list")
        return redirect("orgs:detail", slug=slug)


class InvitationOpenView(View):
    """The link in the invitation email. Logged in with the invited email: accept. No account
    yet: create one (its password is emailed) and log in with it to accept; opening the link
    never logs anyone in. Anything else: say why, change nothing."""

    def _context(self, request, token):
        try:
            invitation = services.invitation_for_token(token, user=request.user)
        except services.InvitationInvalid as error:
            return {"error": error.message}
        context = {"invitation": invitation, "token": token}
        if not request.user.is_authenticated:
            context["has_account"] = email_is_registered(invitation.email)
        return context

    def get(self, request, token):
        context = self._context(request, token)
        return render(
            request, "orgs/invitation_open.html", context, status=400 if "error" in context else 200
        )

    def post(self, request, token):
        try:
            if not request.user.is_authenticated:
                user = services.invitation_signup(token=token)
                messages.info(
                    request, f"Your account is ready: log in with the password we emailed to {user.email}."
                )
                return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
            membership = services.invitation_accept(token=token, user=request.user)
        except services.InvitationInvalid as error:
            return render(request, "orgs/invitation_open.html", {"error": error.message}, status=400)
        organization = membership.organization
        request.session["current_organization"] = organization.slug
        messages.success(request, f"You joined {organization.name}.")
        return redirect("orgs:detail", slug=organization.slug)
