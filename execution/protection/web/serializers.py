"""The protection API's shapes: an account's settings (validated by the model's own limits) and a
trade's plan with its steps."""

from rest_framework import serializers

from execution.protection.models import ProtectionSettings, ProtectionStep


class ProtectionSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProtectionSettings
        fields = [
            "breakeven_at",
            "breakeven_buffer_pips",
            "trailing",
            "trailing_activation_pips",
            "trailing_distance_pips",
            "trailing_step_pips",
        ]


class ProtectionStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProtectionStep
        fields = ["at", "kind", "message", "operation"]


class TradePlanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    account_id = serializers.IntegerField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    entry = serializers.CharField()
    sl = serializers.CharField(allow_blank=True)
    tps = serializers.ListField(child=serializers.CharField())
    legs = serializers.IntegerField(allow_null=True, help_text="Positions the opening planned")
    reached = serializers.IntegerField(help_text="The highest TP level reached (0: none)")
    opening = serializers.CharField(help_text="The opening operation's state")
    next = serializers.CharField(help_text="What protection does next, in words")
    last_step = serializers.CharField(allow_blank=True)
    steps = ProtectionStepSerializer(many=True)
