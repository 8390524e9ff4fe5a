from django.contrib import admin

from execution.accounts.models import (
    AccountCredential,
    AccountSymbol,
    RiskSettings,
    SymbolOverride,
    TradingAccount,
)
from execution.broker.models import SimulatorDocument
from execution.engine.models import AccountHome, EngineWorker
from execution.orders.models import IdempotencyKey, Operation, OperationAttempt
from execution.protection.models import ProtectionSettings, ProtectionStep, TradeProtection
from execution.safety.models import SafetyEvent
from execution.signals.models import Decision, Route, Signal, SignalSource, Trade


@admin.register(TradingAccount)
class TradingAccountAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "organization",
        "type",
        "platform",
        "login",
        "server",
        "connection_state",
        "balance",
        "equity",
        "currency",
        "figures_at",
    ]
    list_filter = ["type", "connection_state", "platform__api"]
    search_fields = ["name", "login", "server", "organization__name", "platform__name"]
    list_select_related = ["organization", "platform"]
    exclude = ["setup_password"]  # the MetaTrader password, held only during the setup
    readonly_fields = [
        "organization",
        "platform",
        "connection_state",
        "connection_error",
        "state_changed_at",
        "broker_account_id",
        "balance",
        "equity",
        "margin",
        "free_margin",
        "currency",
        "leverage",
        "figures_at",
        "created_at",
    ]


@admin.register(AccountCredential)
class AccountCredentialAdmin(admin.ModelAdmin):
    list_display = ["account", "expires_at", "refreshed_at"]
    search_fields = ["account__name", "account__login"]
    list_select_related = ["account"]
    exclude = ["token"]  # the narrow per-account token is never displayed
    readonly_fields = ["account", "expires_at", "refreshed_at"]


@admin.register(AccountSymbol)
class AccountSymbolAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "account",
        "asset_class",
        "digits",
        "contract_size",
        "volume_min",
        "volume_max",
        "volume_step",
        "trading_allowed",
    ]
    list_filter = ["asset_class", "trading_allowed"]
    search_fields = ["name", "description", "account__name"]
    list_select_related = ["account"]


@admin.register(SymbolOverride)
class SymbolOverrideAdmin(admin.ModelAdmin):
    list_display = ["alias", "broker_symbol", "account"]
    search_fields = ["alias", "broker_symbol", "account__name"]
    list_select_related = ["account"]


@admin.register(SimulatorDocument)
class SimulatorDocumentAdmin(admin.ModelAdmin):
    list_display = ["key", "size", "updated_at"]
    search_fields = ["key"]
    readonly_fields = ["key", "document", "updated_at"]

    @admin.display(description="Size (characters)")
    def size(self, obj: SimulatorDocument) -> int:
        return len(obj.document)


@admin.register(RiskSettings)
class RiskSettingsAdmin(admin.ModelAdmin):
    list_display = ["account", "mode", "risk_level", "fixed_lots", "risk_percent", "asset_caps"]
    list_filter = ["mode", "risk_level"]
    search_fields = ["account__name", "account__login"]
    list_select_related = ["account"]


class OperationAttemptInline(admin.TabularInline):
    model = OperationAttempt
    extra = 0
    can_delete = False
    readonly_fields = [
        "number",
        "started_at",
        "finished_at",
        "duration_ms",
        "category",
        "source",
        "code",
        "string_code",
        "message",
        "retry_in_ms",
        "outcome_unknown",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "account",
        "state",
        "priority",
        "attempt_count",
        "last_category",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", "kind", "priority", "last_category"]
    search_fields = ["client_tag", "account__name", "account__login", "reason"]
    list_select_related = ["account"]
    readonly_fields = [field.name for field in Operation._meta.fields]
    inlines = [OperationAttemptInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(OperationAttempt)
class OperationAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "operation",
        "number",
        "category",
        "code",
        "string_code",
        "duration_ms",
        "outcome_unknown",
        "started_at",
    ]
    list_filter = ["category", "outcome_unknown"]
    search_fields = ["operation__client_tag", "string_code", "message"]
    list_select_related = ["operation"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "organization", "response_status", "created_at"]
    search_fields = ["key"]
    list_select_related = ["organization"]
    readonly_fields = ["organization", "key", "fingerprint", "response_status", "response_body", "created_at"]


@admin.register(SafetyEvent)
class SafetyEventAdmin(admin.ModelAdmin):
    list_display = ["at", "monitor", "account", "platform", "from_state", "to_state", "cause"]
    list_filter = ["monitor", "to_state"]
    search_fields = ["cause", "account__name", "platform__name"]
    list_select_related = ["account", "platform"]


@admin.register(EngineWorker)
class EngineWorkerAdmin(admin.ModelAdmin):
    """The worker processes running the engine (alive while their heartbeat keeps ``alive_until``
    ahead): what an operator looks at to see who serves what."""

    list_display = ["id", "hostname", "pid", "started_at", "alive_until"]
    readonly_fields = ["id", "hostname", "pid", "started_at", "alive_until"]


@admin.register(AccountHome)
class AccountHomeAdmin(admin.ModelAdmin):
    list_display = ["account", "worker_id", "since"]
    search_fields = ["account__name", "account__login", "worker_id"]
    list_select_related = ["account"]
    readonly_fields = ["account", "worker_id", "since"]


# -- signals -------------------------------------------------------------------------------------
@admin.register(SignalSource)
class SignalSourceAdmin(admin.ModelAdmin):
    """The webhook's signing secret and URL token are never shown (nor their hash)."""

    list_display = ["name", "organization", "kind", "state", "recording", "created_at"]
    list_filter = ["kind", "state"]
    search_fields = ["name", "organization__name"]
    list_select_related = ["organization"]
    exclude = ["signing_secret", "url_token_hash"]
    readonly_fields = ["public_id", "replay_round", "replay_position", "replay_held_by", "replay_lease_until"]


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ["source", "account", "active", "mode", "lot_multiplier", "reverse", "created_at"]
    list_filter = ["active", "mode", "reverse"]
    search_fields = ["source__name", "account__name"]
    list_select_related = ["source", "account"]


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "message_id", "version", "kind", "symbol", "received_at", "deleted_at"]
    list_filter = ["kind"]
    search_fields = ["message_id", "text", "source__name"]
    list_select_related = ["source"]
    readonly_fields = [field.name for field in Signal._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["id", "signal", "account", "outcome", "code", "created_at"]
    list_filter = ["outcome", "code"]
    search_fields = ["reason", "account__name", "signal__message_id"]
    list_select_related = ["signal__source", "account"]
    readonly_fields = [field.name for field in Decision._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


class ProtectionStepInline(admin.TabularInline):
    model = ProtectionStep
    extra = 0
    can_delete = False
    readonly_fields = ["at", "kind", "message", "operation"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    list_display = ["id", "account", "symbol", "side", "order_type", "state", "created_at"]
    list_filter = ["state", "side", "order_type"]
    search_fields = ["symbol", "account__name"]
    list_select_related = ["account"]
    readonly_fields = [field.name for field in Trade._meta.fields]
    inlines = [ProtectionStepInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ProtectionSettings)
class ProtectionSettingsAdmin(admin.ModelAdmin):
    list_display = ["account", "breakeven_at", "breakeven_buffer_pips", "trailing", "trailing_distance_pips"]
    list_filter = ["breakeven_at", "trailing"]
    search_fields = ["account__name", "account__login"]
    list_select_related = ["account"]


@admin.register(TradeProtection)
class TradeProtectionAdmin(admin.ModelAdmin):
    list_display = ["trade", "reached", "breakeven_operation", "trailing_operation", "over", "updated_at"]
    list_filter = ["over"]
    readonly_fields = [field.name for field in TradeProtection._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ProtectionStep)
class ProtectionStepAdmin(admin.ModelAdmin):
    list_display = ["trade", "at", "kind", "message", "operation"]
    list_filter = ["kind"]
    list_select_related = ["trade"]
    readonly_fields = [field.name for field in ProtectionStep._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
