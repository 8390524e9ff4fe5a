from rest_framework import serializers

from orgs import permissions as perms
from orgs.models import Invitation, Organization


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["slug", "name", "created_at"]
        read_only_fields = ["slug", "created_at"]


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    role = serializers.ChoiceField(choices=perms.ROLE_CHOICES, read_only=True)
    permissions = serializers.ListField(child=serializers.CharField(), read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class MemberUpdateSerializer(serializers.Serializer):
    """Give ``role`` to apply a preset, or ``permissions`` to set an exact list."""

    role = serializers.ChoiceField(choices=perms.PRESET_ROLE_CHOICES, required=False)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=perms.PERMISSION_CHOICES), required=False
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give a role or a list of permissions.")
        return attrs


class InvitationSerializer(serializers.ModelSerializer):
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "permissions",
            "status",
            "invited_by",
            "created_at",
            "sent_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=perms.PRESET_ROLE_CHOICES, required=False)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=perms.PERMISSION_CHOICES), required=False
    )

    def validate(self, attrs):
        if "role" not in attrs and "permissions" not in attrs:
            raise serializers.ValidationError({"role": ["Give a role or a list of permissions."]})
        return attrs
