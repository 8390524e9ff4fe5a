"""Forms of the platform pages: the platform, its credentials, report-DB reads."""

import re
from datetime import datetime

from django import forms
from django.utils.dateparse import parse_datetime

from platforms.models import TradePlatform


class PlatformForm(forms.Form):
    """A trade platform; ``servers`` is typed as a comma- or newline-separated list."""

    name = forms.CharField(max_length=120)
    type = forms.ChoiceField(choices=TradePlatform.TYPE_CHOICES)
    api = forms.ChoiceField(choices=TradePlatform.API_CHOICES, label="API")
    servers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Trade server names, separated by commas or new lines, e.g. Broker-Live01.",
    )

    @classmethod
    def initial_for(cls, platform: TradePlatform) -> dict:
        return {
            "name": platform.name,
            "type": platform.type,
            "api": platform.api,
            "servers": "\n".join(platform.servers),
        }

    def clean_servers(self) -> list[str]:
        servers = [server.strip() for server in re.split(r"[,\r\n]+", self.cleaned_data["servers"])]
        too_long = [server for server in servers if len(server) > 120]
        if too_long:
            raise forms.ValidationError("A server name has at most 120 characters.")
        return [server for server in servers if server]


class _CredentialsForm(forms.Form):
    """Credentials of a platform. The password is write-only: never rendered back, and left empty
    it keeps the stored one."""

    host = forms.CharField(max_length=255, help_text="Host name or IP address")
    port = forms.IntegerField(min_value=1, max_value=65535)
    login = forms.CharField(max_length=255)
    password = forms.CharField(
        max_length=255,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored password.",
    )

    credential_fields: tuple[str, ...] = ("host", "port", "login")

    @classmethod
    def initial_for(cls, credentials) -> dict:
        if credentials is None:
            return {}
        return {name: getattr(credentials, name) for name in cls.credential_fields}

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {**{name: data[name] for name in self.credential_fields}, "password": data["password"] or None}


class ManagerApiForm(_CredentialsForm):
    pass


class ReportDbForm(_CredentialsForm):
    port = forms.IntegerField(min_value=1, max_value=65535, initial=3306)
    database = forms.CharField(max_length=64)

    field_order = ["host", "port", "database", "login", "password"]
    credential_fields = ("host", "port", "database", "login")


class ReportPageForm(forms.Form):
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def page_number(self) -> int:
        return self.cleaned_data.get("page") or 1


class TradeServerTimeField(forms.Field):
    """A date and time on the trade server's own clock: kept naive, never converted to a timezone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S")
    default_error_messages = {
        "invalid": "Give a date and time such as 2024-03-05T14:30.",
        "offset": "Give trade-server time without a timezone offset.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = parse_datetime(str(value).strip())
            except ValueError:
                parsed = None
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if parsed.tzinfo is not None:
            raise forms.ValidationError(self.error_messages["offset"], code="offset")
        return parsed


class TradeFilterForm(ReportPageForm):
    """Filters of the report trades page; the query parameters are login, from, to, status, page."""

    ALL, OPEN, CLOSED = "all", "open", "closed"

    login = forms.IntegerField(min_value=1, required=False)
    status = forms.ChoiceField(
        choices=[(ALL, "All"), (OPEN, "Open"), (CLOSED, "Closed")], required=False, initial=ALL
    )

    field_order = ["login", "from", "to", "status", "page"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword, so these two are added here rather than declared.
        self.fields["from"] = TradeServerTimeField(required=False, label="From")  # open time, inclusive
        self.fields["to"] = TradeServerTimeField(required=False, label="To")  # open time, exclusive
        self.order_fields(self.field_order)

    def clean(self):
        data = super().clean()
        time_from, time_to = data.get("from"), data.get("to")
        if time_from is not None and time_to is not None and time_from > time_to:
            self.add_error("to", "Must not be before From.")
        return data

    def query(self) -> dict:
        """The keyword arguments of ``report_db.list_trades``."""
        data = self.cleaned_data
        status = data.get("status") or self.ALL
        return {
            "login": data.get("login"),
            "time_from": data.get("from"),
            "time_to": data.get("to"),
            "open": None if status == self.ALL else status == self.OPEN,
            "page": self.page_number(),
        }
