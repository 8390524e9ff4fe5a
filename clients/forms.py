"""The API client form."""

from django import forms

from orgs import permissions as perms


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=120)
    scopes = forms.MultipleChoiceField(
        choices=perms.SCOPE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the client may do; never more than you may do yourself.",
    )
