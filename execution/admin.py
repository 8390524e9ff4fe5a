from django.contrib import admin

from execution.models import (
    AccountCredential,
    AccountSymbol,
    SimulatorDocument,
    SymbolOverride,
    TradingAccount,
)


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
