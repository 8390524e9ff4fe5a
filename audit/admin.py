"""The audit log in the admin: read only (no add, change or delete, by anyone)."""

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "actor_label", "kind", "target_label", "ip"]
    list_filter = ["kind", "created_at"]
    search_fields = ["actor_label", "target_label", "organization__name", "organization__slug"]
    list_select_related = ["organization"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
