"""The signal tester's form: a message and, optionally, the one it replies to (parsed as given)."""

from django import forms

from execution.signals.web import MAX_MESSAGE_LENGTH


class SignalTestForm(forms.Form):
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
