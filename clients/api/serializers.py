"""API clients over the API."""

from rest_framework import serializers

from clients.models import ApiClient
from orgs import permissions as perms


class ApiClientSerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiClient
        fields = [
            "id",
            "name",
            "client_id",
            "secret_hint",
            "scopes",
            "active",
            "created_by",
            "created_at",
            "rotated_at",
            "revoked_at",
            "last_used_at",
        ]
        read_only_fields = fields


class ApiClientCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=perms.SCOPE_CHOICES), allow_empty=False
    )


class ApiClientWithSecretSerializer(ApiClientSerializer):
    """Returned once, at creation or rotation: the only response that carries the secret."""

    client_secret = serializers.CharField(read_only=True)

    class Meta(ApiClientSerializer.Meta):
        fields = [*ApiClientSerializer.Meta.fields, "client_secret"]
        read_only_fields = fields
