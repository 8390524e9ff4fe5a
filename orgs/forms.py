from django import forms

from orgs import permissions as perms


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=120)


class PermissionsForm(forms.Form):
    """A role preset, or (when any box is ticked) an exact list of permissions."""

    role = forms.ChoiceField(choices=perms.PRESET_ROLE_CHOICES, initial=perms.TRADER)
    permissions = forms.MultipleChoiceField(
        choices=perms.PERMISSION_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick permissions to set them exactly instead of the role's preset.",
    )

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {"role": data["role"], "permissions": data["permissions"] or None}


class InvitationForm(PermissionsForm):
    email = forms.EmailField()
    field_order = ["email", "role", "permissions"]


# --- trade platforms ------------------------------------------------------------------------------


# --- API clients ----------------------------------------------------------------------------------


# --- security policy ------------------------------------------------------------------------------


class OrganizationSecurityForm(forms.Form):
    mfa_required = forms.BooleanField(
        required=False,
        label="Require two-factor authentication",
        help_text="Members without it are sent to set it up before they can open this organization.",
    )
