from rest_framework import serializers

from audit.kinds import KIND_CHOICES
from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=KIND_CHOICES)
    description = serializers.CharField(help_text="What the actor did, in words")
    actor = serializers.CharField(source="actor_label", help_text="Who acted, as they were named then")
    actor_user = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The acting user's id (null: an API client, the system)"
    )
    actor_client = serializers.SlugRelatedField(
        slug_field="client_id",
        read_only=True,
        allow_null=True,
        help_text="The acting API client's id (null: a person, the system)",
    )
    changes = serializers.DictField(
        child=serializers.DictField(),
        help_text='{field: {"before": ..., "after": ...}}; a secret is {field: {"changed": true}}',
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "kind",
            "description",
            "actor",
            "actor_user",
            "actor_client",
            "target_type",
            "target_id",
            "target_label",
            "changes",
            "ip",
        ]
        read_only_fields = fields


class AuditEventFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KIND_CHOICES, required=False)
    actor = serializers.CharField(
        required=False, max_length=200, help_text="Part of the actor's email or API client name or id"
    )
    since = serializers.DateTimeField(required=False, help_text="Events at or after this time")
    until = serializers.DateTimeField(required=False, help_text="Events before this time")
