from typing import cast

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from accounts.api.serializers import PHONE_PATTERN
from accounts.timezones import zone_names


class SignupForm(forms.Form):
    email = forms.EmailField(max_length=254)
    full_name = forms.CharField(max_length=150)
    phone = forms.RegexField(
        regex=PHONE_PATTERN,
        max_length=32,
        required=False,
        error_messages={"invalid": "Enter a phone number: digits, spaces, +()-."},
    )
    password = forms.CharField(widget=forms.PasswordInput, max_length=128, strip=False)
    accept_terms = forms.BooleanField(
        label="I accept the terms of service and the privacy notice",
        error_messages={
            "required": "Accept the terms of service and the privacy notice to "
            "open an account."
        },
    )


class ConsentForm(forms.Form):
    accept_terms = forms.BooleanField(
        label="I have read and accept these documents",
        error_messages={"required": "Tick the box to accept the documents."},
    )


class LoginForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, max_length=128, strip=False)


class OtpForm(forms.Form):
    otp = forms.CharField(
        max_length=16,
        label="Code",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
    )


class PasswordForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, max_length=128, strip=False)


class DisableTwoFactorForm(PasswordForm, OtpForm):
    pass


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        widget=forms.PasswordInput, max_length=128, strip=False
    )
    new_password = forms.CharField(
        widget=forms.PasswordInput, max_length=128, strip=False
    )


class StaffLoginForm(AdminAuthenticationForm):
    """The back office's sign-in: email, password and a code, in one submit.

    The code may come from the authenticator or be a backup code; the form finds
    the device itself (`services.otp_verify`, devices locked, so a code works
    once), where django-otp's admin form wanted a device picked first.
    Failures are audited and count towards the lockout like any login."""

    otp_token = forms.CharField(
        max_length=16,
        required=False,
        label="Code",
        help_text="From your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "no_second_factor": "The back office needs a second factor: turn on "
        "two-factor login on your security page first.",
        "code_required": "Enter the code from your authenticator or a backup code.",
    }

    def clean(self):
        from accounts import services
        from accounts.selectors import user_has_two_factor
        from config.errors import ApplicationError

        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not (email and password):
            return self.cleaned_data
        try:
            user = services.auth_authenticate(
                request=self.request, email=email, password=password
            )
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        self.confirm_login_allowed(user)  # staff only
        if not user_has_two_factor(user=user):
            raise forms.ValidationError(
                self.error_messages["no_second_factor"], code="no_second_factor"
            )
        token = (self.cleaned_data.get("otp_token") or "").strip()
        if not token:
            raise forms.ValidationError(
                self.error_messages["code_required"], code="code_required"
            )
        try:
            device = services.auth_second_factor(
                request=self.request, user=user, otp=token
            )
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
        user.otp_device = device  # django-otp marks the session verified at login
        self.user_cache = user
        services.login_succeeded_record(
            request=self.request, user=user, channel="admin"
        )
        return self.cleaned_data


class PasskeyRenameForm(forms.Form):
    passkey = forms.IntegerField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=64, label="Name")


class PasskeyRemoveForm(OtpForm):
    passkey = forms.IntegerField(widget=forms.HiddenInput)


class PreferencesForm(forms.Form):
    """The home page's settings: the zone times are shown in and the currency
    holdings are valued in (accounts.services.user_profile_update checks both)."""

    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Every time on the pages is shown in this zone, with its name.",
    )
    display_currency = forms.CharField(
        label="Value my holdings in",
        required=False,
        max_length=16,
        help_text="An asset code such as USD or INR; empty: the platform's default.",
    )

    def __init__(self, *args, browser_zone: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        first = "Your browser's zone" + (f" ({browser_zone})" if browser_zone else "")
        zone_field = cast(forms.ChoiceField, self.fields["time_zone"])
        zone_field.choices = [("", first)] + [
            (name, name.replace("_", " ")) for name in sorted(zone_names())
        ]
