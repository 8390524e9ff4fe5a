"""Admin of API clients (the secret's digest is never shown)."""

from django.contrib import admin

from clients.models import ApiClient
from clients.services import client_revoke


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
            client_revoke(client=client, actor=request.user, request=request)
