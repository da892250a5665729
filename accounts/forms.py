from django import forms

from accounts.api.serializers import PHONE_PATTERN


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
