from django import forms
from django.utils.translation import gettext_lazy as _


class SignInForm(forms.Form):
    username = forms.CharField(
        label=_("Username"), max_length=150, error_messages={"required": _("Enter your username")}
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput, strip=False,
        error_messages={"required": _("Enter your password")},
    )  # fmt: skip


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from your authenticator app"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6-digit code from your authenticator app")},
    )
