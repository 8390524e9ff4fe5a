"""Forms of the trading account pages. They parse input only; the services decide and validate."""

import re

from django import forms

from execution.accounts.models import TradingAccount
from execution.broker import faults
from execution.broker.faults import SCRIPTED_TRANSPORT_FAULTS, FaultSettings
from orgs.models import Organization
from platforms.models import TradePlatform
from platforms.selectors import platforms_for

SERVER_DATALIST_ID = "server-options"


class _PlatformChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, platform: TradePlatform) -> str:
        return f"{platform.name} ({platform.get_type_display()}, {platform.get_api_display()})"


def _password_field(help_text: str) -> forms.CharField:
    return forms.CharField(
        label="MetaTrader password",
        max_length=255,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text,
    )


PASSWORD_HELP = (
    "Used once to set up the connection, then erased: TTMT does not keep your MetaTrader password."
)


class AccountConnectForm(forms.Form):
    """Connect a MetaTrader account. The password is write-only: never rendered back."""

    name = forms.CharField(max_length=120, help_text="How you call this account, e.g. My demo.")
    type = forms.ChoiceField(choices=TradingAccount.TYPE_CHOICES)
    platform = _PlatformChoiceField(queryset=TradePlatform.objects.none(), empty_label=None)
    server = forms.CharField(
        max_length=120,
        widget=forms.TextInput(attrs={"list": SERVER_DATALIST_ID, "autocomplete": "off"}),
        help_text="The trade server, as MetaTrader shows it.",
    )
    login = forms.CharField(max_length=32, help_text="The MetaTrader account number.")
    password = _password_field(PASSWORD_HELP)

    def __init__(self, *args, organization: Organization, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["platform"].queryset = platforms_for(organization)

    def service_arguments(self) -> dict:
        return dict(self.cleaned_data)


class AccountEditForm(forms.Form):
    name = forms.CharField(max_length=120)
    type = forms.ChoiceField(choices=TradingAccount.TYPE_CHOICES)

    @classmethod
    def initial_for(cls, account: TradingAccount) -> dict:
        return {"name": account.name, "type": account.type}


class ReconnectForm(forms.Form):
    password = _password_field(PASSWORD_HELP)


class SymbolResolveForm(forms.Form):
    symbol = forms.CharField(max_length=40, label="Symbol as written", help_text="e.g. GOLD, EUR/USD, NASDAQ")


class SymbolOverrideForm(forms.Form):
    alias = forms.CharField(max_length=40, label="Written as", help_text="e.g. GOLD (case-insensitive)")
    broker_symbol = forms.ChoiceField(label="Broker symbol")

    def __init__(self, *args, symbol_names: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["broker_symbol"].choices = [(name, name) for name in symbol_names]


class FaultSettingsForm(forms.Form):
    """The simulated broker's fault settings for one account (saving replaces them all)."""

    latency_seconds = forms.FloatField(
        min_value=0, max_value=faults.MAX_FAULT_LATENCY_SECONDS, initial=0, label="Latency (seconds)"
    )
    scripted_errors = forms.CharField(
        required=False,
        label="Scripted errors",
        help_text="The next calls fail with these, in order, separated by commas: trade codes "
        f"(e.g. 10004, 10024) or {', '.join(SCRIPTED_TRANSPORT_FAULTS)}.",
    )
    error_rate = forms.FloatField(
        min_value=0, max_value=1, initial=0, help_text="Probability (0 to 1) that a call fails."
    )
    error_rate_code = forms.IntegerField(
        min_value=-faults.MAX_FAULT_CODE,
        max_value=faults.MAX_FAULT_CODE,
        initial=10024,
        help_text="The code of those random failures.",
    )
    disconnected = forms.BooleanField(required=False, help_text="Every call fails as not connected.")
    applies_to = forms.ChoiceField(
        choices=[("all", "All calls"), ("trading", "Trading calls only"), ("queries", "Queries only")]
    )
    retry_after_seconds = forms.FloatField(
        min_value=0,
        max_value=faults.MAX_RETRY_AFTER_SECONDS,
        required=False,
        help_text="Put on injected 10024 (too many requests) errors.",
    )

    @classmethod
    def initial_for(cls, faults: FaultSettings) -> dict:
        return {
            "latency_seconds": faults.latency_seconds,
            "scripted_errors": ", ".join(str(entry) for entry in faults.scripted_errors),
            "error_rate": faults.error_rate,
            "error_rate_code": faults.error_rate_code,
            "disconnected": faults.disconnected,
            "applies_to": faults.applies_to,
            "retry_after_seconds": faults.retry_after_seconds,
        }

    def clean_scripted_errors(self) -> list[int | str]:
        entries = [entry.strip() for entry in re.split(r"[,\s]+", self.cleaned_data["scripted_errors"])]
        chosen = [
            int(entry) if re.fullmatch(r"-?\d+", entry) else entry.lower() for entry in entries if entry
        ]
        if len(chosen) > faults.MAX_SCRIPTED_ERRORS:
            raise forms.ValidationError(f"At most {faults.MAX_SCRIPTED_ERRORS} scripted errors.")
        out_of_range = [
            entry for entry in chosen if isinstance(entry, int) and abs(entry) > faults.MAX_FAULT_CODE
        ]
        if out_of_range:
            raise forms.ValidationError(f"{out_of_range[0]}: a code is within +-{faults.MAX_FAULT_CODE}.")
        return chosen

    def service_arguments(self) -> dict:
        return dict(self.cleaned_data)
