"""Forms of the signal pages. They parse input only; the services decide and validate (their errors
land on the field of the same name)."""

import datetime

from django import forms

from execution.signals.models import Route, Signal, SignalSource
from execution.signals.sources.recorded import RECORDINGS
from execution.signals.web import MAX_MESSAGE_LENGTH

# --- the tester ----------------------------------------------------------------------------------


class _RouteChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, route: Route) -> str:
        return f"{route.source.name} → {route.account.name}"


class SignalTestForm(forms.Form):
    """A message and, optionally, the one it replies to (parsed as given); with a route, what that
    route would do with it."""

    text = forms.CharField(
        label="Message",
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "GOLD BUY LIMIT 2275\nSL 2268\nTP 2285"}),
        help_text="Paste a message as the channel sent it.",
    )
    reply_to = forms.CharField(
        label="In reply to",
        max_length=MAX_MESSAGE_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "GOLD BUY NOW"}),
        help_text="Optional: the message it replies to, e.g. the alert that its levels complete.",
    )
    route = _RouteChoiceField(
        queryset=Route.objects.none(),
        required=False,
        empty_label="No route: only read the message",
        help_text="Optional: see what this route would do with it (its words, checks and sizing). "
        "Nothing is stored and no trade is placed.",
    )

    def __init__(self, *args, routes=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if routes is not None:
            self.fields["route"].queryset = routes


# --- sources -------------------------------------------------------------------------------------


def _recording_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(RECORDINGS)]


class SourceCreateForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="How you call this channel, e.g. Gold VIP.")
    kind = forms.ChoiceField(
        choices=SignalSource.KIND_CHOICES,
        help_text="Webhook: a sender (a bot, TradingView) posts each message to a URL. Manual: you "
        "paste messages. Recorded: a recording of a channel is played, for a demo.",
    )
    recording = forms.ChoiceField(
        choices=_recording_choices, required=False, initial="demo", help_text="Recorded sources only."
    )
    max_age_seconds = forms.IntegerField(
        label="Max age (seconds)",
        initial=300,
        help_text="A message older than this when it arrives is recorded, not traded.",
    )

    def service_arguments(self) -> dict:
        return dict(self.cleaned_data)


class SourceEditForm(forms.Form):
    name = forms.CharField(max_length=120)
    state = forms.ChoiceField(choices=[(SignalSource.ACTIVE, "Active"), (SignalSource.PAUSED, "Paused")])
    max_age_seconds = forms.IntegerField(label="Max age (seconds)")

    @classmethod
    def initial_for(cls, source: SignalSource) -> dict:
        state = (
            source.state
            if source.state in (SignalSource.ACTIVE, SignalSource.PAUSED)
            else SignalSource.PAUSED
        )
        return {"name": source.name, "state": state, "max_age_seconds": source.max_age_seconds}


class MessagePostForm(forms.Form):
    """A message posted live into a manual source: its routes trade it."""

    text = forms.CharField(
        label="Message",
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "GOLD BUY 2275\nSL 2268\nTP 2285"}),
    )
    reply_to_id = forms.ChoiceField(label="In reply to", required=False)

    def __init__(self, *args, messages: list[Signal] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Not a reply")]
        for message in messages:
            snippet = " ".join(message.text.split())[:60]
            choices.append((message.message_id, f"{message.received_at:%H:%M:%S} {snippet}"))
        self.fields["reply_to_id"].choices = list(dict(choices).items())


# --- routes --------------------------------------------------------------------------------------


def _pairs_text(mapping: dict) -> str:
    return "\n".join(f"{name} = {value}" for name, value in mapping.items())


def _minute_of_day(value: datetime.time | None) -> int | None:
    return None if value is None else value.hour * 60 + value.minute


def _time_of(minute: int | None) -> datetime.time | None:
    return None if minute is None else datetime.time(minute // 60, minute % 60)


class _PairsField(forms.CharField):
    """``name = value`` lines -> a dict."""

    def __init__(self, *, example: str, **kwargs) -> None:
        self.example = example
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "placeholder": example}))
        super().__init__(required=False, **kwargs)

    def to_python(self, value) -> dict:
        pairs = {}
        for line in (super().to_python(value) or "").splitlines():
            if not line.strip():
                continue
            name, sep, meaning = line.partition("=")
            if not sep:
                name, sep, meaning = line.partition(":")
            if not sep or not name.strip() or not meaning.strip():
                raise forms.ValidationError(f"Write one per line, e.g. {self.example.splitlines()[0]}.")
            pairs[name.strip()] = meaning.strip()
        return pairs


class _SymbolsField(forms.CharField):
    def to_python(self, value) -> list[str]:
        text = super().to_python(value) or ""
        return [name.strip() for name in text.replace("\n", ",").split(",") if name.strip()]


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _optional_decimal(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(required=False, **kwargs)


class RouteForm(forms.Form):
    """A route's settings; ``accounts`` given: a new route, to one of them."""

    account = forms.ModelChoiceField(queryset=None, empty_label=None, help_text="Where the signals trade.")
    active = forms.BooleanField(required=False, initial=True)
    symbol_filter = forms.ChoiceField(choices=Route.FILTER_CHOICES, label="Symbols")
    symbols = _SymbolsField(
        required=False, label="Only / all but", help_text="Canonical names, comma-separated: XAUUSD, EURUSD."
    )
    mode = forms.ChoiceField(choices=Route.MODE_CHOICES, label="Alerts")
    alert_wait_seconds = forms.IntegerField(
        initial=300, label="Wait for details (seconds)", help_text="How long an alert waits for its levels."
    )
    confidence_threshold = forms.DecimalField(
        initial="0.70", help_text="0 to 1: a reading below this is held, not traded."
    )
    risk_mode = forms.ChoiceField(
        choices=[("", "The account's risk settings"), *Route.RISK_MODE_CHOICES],
        required=False,
        label="Sizing",
    )
    fixed_lots = _optional_decimal(help_text="With fixed lots.")
    risk_percent = _optional_decimal(label="Risk %", help_text="With risk % of balance.")
    lot_multiplier = forms.DecimalField(initial="1", help_text="More than 0, at most 10.")
    reverse = forms.BooleanField(required=False, help_text="Buy becomes sell and sell buy.")
    default_sl_pips = forms.DecimalField(initial="0", label="Default SL (pips)")
    default_tp_pips = forms.DecimalField(initial="0", label="Default TP (pips)")
    sl_policy = forms.ChoiceField(choices=Route.SL_POLICY_CHOICES, label="SL on the wrong side")
    max_entry_distance_pips = _optional_decimal(label="Max entry distance (pips)")
    max_spread_pips = _optional_decimal(label="Max spread (pips)")
    pending_expiry_minutes = forms.IntegerField(required=False, label="Pending orders expire after (minutes)")
    duplicate_window_seconds = forms.IntegerField(
        initial=600,
        label="Duplicate window (seconds)",
        help_text="The same trade again within this is skipped.",
    )
    market_closed = forms.ChoiceField(choices=Route.CLOSED_CHOICES, label="Market closed")
    hours_start = forms.TimeField(
        required=False,
        label="Trade from (UTC)",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    hours_end = forms.TimeField(
        required=False, label="Until (UTC)", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    keywords = _PairsField(
        example="kopen = buy\ndoel = tp", help_text="The channel's own words, one per line."
    )
    aliases = _PairsField(example="G = XAUUSD", help_text="The channel's own symbol names, one per line.")

    def __init__(self, *args, accounts=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if accounts is None:
            del self.fields["account"]
        else:
            self.fields["account"].queryset = accounts

    @classmethod
    def initial_for(cls, route: Route) -> dict:
        initial = {name: getattr(route, name) for name in cls.base_fields if name != "account"}
        initial["symbols"] = ", ".join(route.symbols)
        initial["keywords"] = _pairs_text(route.keywords)
        initial["aliases"] = _pairs_text(route.aliases)
        initial["hours_start"] = _time_of(route.hours_start)
        initial["hours_end"] = _time_of(route.hours_end)
        return initial

    def service_arguments(self) -> dict:
        settings = {name: value for name, value in self.cleaned_data.items() if name != "account"}
        settings["hours_start"] = _minute_of_day(settings["hours_start"])
        settings["hours_end"] = _minute_of_day(settings["hours_end"])
        return settings
