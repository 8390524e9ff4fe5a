"""The audit log page's filters."""

from django import forms

from audit.kinds import KIND_CHOICES


class AuditFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "Any kind"), *KIND_CHOICES], required=False)
    actor = forms.CharField(required=False, max_length=200, help_text="Part of an email or API client name")
    since = forms.DateTimeField(required=False, help_text="e.g. 2026-01-31 09:00 (UTC)")
    until = forms.DateTimeField(required=False)

    def filters(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
