from django import forms
from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from orgs.clients import client_revoke
from orgs.models import (
    ApiClient,
    Invitation,
    ManagerApiCredentials,
    Membership,
    Organization,
    ReportDbCredentials,
    TradePlatform,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(GuardedModelAdmin):
    list_display = ["name", "slug", "created_at", "member_count"]
    search_fields = ["name", "slug"]
    list_filter = ["created_at"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    @admin.display(description="Members")
    def member_count(self, obj: Organization) -> int:
        return obj.memberships.count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__name", "organization__slug"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "organization",
        "role",
        "status",
        "invited_by",
        "sent_at",
        "expires_at",
    ]
    list_filter = ["role", "accepted_at", "revoked_at"]
    search_fields = ["email", "organization__name"]
    list_select_related = ["organization", "invited_by"]
    # the token hash is never shown; the link exists only in the email
    exclude = ["token_hash"]
    readonly_fields = [
        "organization",
        "email",
        "invited_by",
        "created_at",
        "sent_at",
        "accepted_at",
        "accepted_by",
    ]


class CredentialsAdminForm(forms.ModelForm):
    """The password is write-only: never rendered, left blank to keep the stored one."""

    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave blank to keep the stored password.",
    )

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if not password:
            if not (self.instance.pk and self.instance.password):
                raise forms.ValidationError("A password is required.")
            return self.instance.password
        return password


class CredentialsAdmin(admin.ModelAdmin):
    form = CredentialsAdminForm
    list_display = ["platform", "organization", "host", "port", "password_set", "updated_at"]
    search_fields = ["platform__name", "platform__organization__name", "host"]
    list_select_related = ["platform__organization"]
    autocomplete_fields = ["platform"]

    @admin.display(description="Organization")
    def organization(self, obj) -> str:
        return str(obj.platform.organization)

    @admin.display(boolean=True, description="Password set")
    def password_set(self, obj) -> bool:
        return bool(obj.password)


admin.site.register(ManagerApiCredentials, CredentialsAdmin)


@admin.register(ReportDbCredentials)
class ReportDbCredentialsAdmin(CredentialsAdmin):
    list_display = ["platform", "organization", "host", "port", "database", "password_set", "updated_at"]


@admin.register(TradePlatform)
class TradePlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "type", "api", "servers", "created_at"]
    list_filter = ["type", "api"]
    search_fields = ["name", "organization__name", "organization__slug"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Create clients from the product (where the secret is shown once); here: look and revoke."""

    list_display = ["name", "organization", "client_id", "secret_hint", "scopes", "is_active", "last_used_at"]
    list_filter = ["revoked_at", "created_at"]
    search_fields = ["name", "client_id", "organization__name"]
    list_select_related = ["organization"]
    exclude = ["secret_hash"]
    readonly_fields = [
        "organization",
        "name",
        "client_id",
        "secret_hint",
        "scopes",
        "created_by",
        "created_at",
        "rotated_at",
        "revoked_at",
        "last_used_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke the selected clients")
    def revoke(self, request, queryset):
        for client in queryset:
            client_revoke(client=client)
