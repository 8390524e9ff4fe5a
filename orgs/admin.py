from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from orgs.models import Invitation, Membership, Organization


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
