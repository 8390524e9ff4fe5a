"""Trade platforms, credentials and report-DB reads over the API."""

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from platforms.models import TradePlatform


class TradePlatformSerializer(serializers.ModelSerializer):
    servers = serializers.ListField(child=serializers.CharField(max_length=120), allow_empty=False)
    manager_api_set = serializers.SerializerMethodField()
    report_db_set = serializers.SerializerMethodField()

    class Meta:
        model = TradePlatform
        fields = ["id", "name", "type", "api", "servers", "created_at", "manager_api_set", "report_db_set"]
        read_only_fields = ["id", "created_at"]

    def get_manager_api_set(self, platform) -> bool:
        return hasattr(platform, "manager_api")

    def get_report_db_set(self, platform) -> bool:
        return hasattr(platform, "report_db")


class _CredentialsSerializer(serializers.Serializer):
    """Everything but the password, which is write-only; ``password_set`` tells whether one is
    stored. On update an omitted password keeps the stored one."""

    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535)
    login = serializers.CharField(max_length=255)
    password = serializers.CharField(write_only=True, required=False, max_length=255, trim_whitespace=False)
    password_set = serializers.SerializerMethodField()
    updated_at = serializers.DateTimeField(read_only=True)

    def get_password_set(self, credentials) -> bool:
        return bool(credentials.password)


class ManagerApiSerializer(_CredentialsSerializer):
    pass


class ReportDbSerializer(_CredentialsSerializer):
    port = serializers.IntegerField(min_value=1, max_value=65535, default=3306)
    database = serializers.CharField(max_length=64)


class ConnectionCheckSerializer(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()
    missing_tables = serializers.ListField(child=serializers.CharField(), required=False)
    users = serializers.IntegerField(required=False, allow_null=True)
    trades = serializers.IntegerField(required=False, allow_null=True)


class ReportAccountSerializer(serializers.Serializer):
    login = serializers.IntegerField()
    name = serializers.CharField()
    group = serializers.CharField()
    balance = serializers.DecimalField(max_digits=20, decimal_places=2)
    credit = serializers.DecimalField(max_digits=20, decimal_places=2)
    equity = serializers.DecimalField(max_digits=20, decimal_places=2)
    margin = serializers.DecimalField(max_digits=20, decimal_places=2)
    free_margin = serializers.DecimalField(max_digits=20, decimal_places=2)


class ReportTradeSerializer(serializers.Serializer):
    ticket = serializers.IntegerField()
    login = serializers.IntegerField()
    symbol = serializers.CharField()
    type = serializers.CharField()
    volume = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="lots")
    open_time = serializers.DateTimeField()
    open_price = serializers.DecimalField(max_digits=20, decimal_places=6)
    sl = serializers.DecimalField(max_digits=20, decimal_places=6)
    tp = serializers.DecimalField(max_digits=20, decimal_places=6)
    close_time = serializers.DateTimeField(allow_null=True)
    close_price = serializers.DecimalField(max_digits=20, decimal_places=6)
    commission = serializers.DecimalField(max_digits=20, decimal_places=2)
    swaps = serializers.DecimalField(max_digits=20, decimal_places=2)
    profit = serializers.DecimalField(max_digits=20, decimal_places=2)
    comment = serializers.CharField(allow_blank=True)
    is_open = serializers.BooleanField()


MAX_REPORT_PAGE = 100_000  # 50 million rows at the largest page size: past any real report database


class ReportQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=MAX_REPORT_PAGE, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=500, default=50)


@extend_schema_field(OpenApiTypes.DATETIME)
class TradeServerTimeField(serializers.Field):
    """An ISO datetime in the trade server's own clock, so without a timezone offset."""

    default_error_messages = {
        "invalid": "Give an ISO datetime such as 2024-03-05T14:30:00.",
        "offset": "Give trade-server time without a timezone offset (the server's clock is its own).",
    }

    def to_internal_value(self, data):
        value = parse_datetime(str(data)) if data else None
        if value is None:
            self.fail("invalid")
        if value.tzinfo is not None:
            self.fail("offset")
        return value

    def to_representation(self, value):
        return value.isoformat()


class ReportTradeQuerySerializer(ReportQuerySerializer):
    """``login``, ``from`` (inclusive), ``to`` (exclusive), ``open``, ``page``, ``page_size``."""

    login = serializers.IntegerField(required=False, min_value=1)
    open = serializers.BooleanField(required=False, allow_null=True, default=None)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = TradeServerTimeField(required=False, source="time_from")
        fields["to"] = TradeServerTimeField(required=False, source="time_to")
        return fields
