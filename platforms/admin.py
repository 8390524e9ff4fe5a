"""Admin of trade platforms and their credentials (passwords write-only)."""

from django import forms
from django.contrib import admin

from platforms.models import ManagerApiCredentials, ReportDbCredentials, TradePlatform


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
