from django import forms

from apikeys.models import ApiKey


def _lines(value: str) -> list[str]:
    return [
        part.strip() for part in value.replace(",", "\n").splitlines() if part.strip()
    ]


class OtpField(forms.CharField):
    def __init__(self, **kwargs):
        super().__init__(
            max_length=64,
            label="Code",
            help_text="A current code from your authenticator app, or a backup code.",
            widget=forms.TextInput(
                attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
            ),
            **kwargs,
        )


class ApiKeyCreateForm(forms.Form):
    label = forms.CharField(max_length=64, required=False)
    kind = forms.ChoiceField(
        choices=ApiKey.Kind.choices,
        initial=ApiKey.Kind.HMAC,
        help_text="HMAC: we make a secret and show it once. Ed25519: you keep the "
        "private key and give us the public one.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[c for c in ApiKey.Scope.choices if c[0] != ApiKey.Scope.READ],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Reading is always allowed. Withdrawing needs allowed addresses.",
    )
    ip_allowlist = forms.CharField(
        label="Allowed addresses",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="One address or network (10.0.0.0/8) a line; empty: any.",
    )
    expires_at = forms.DateTimeField(
        label="Expires",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    public_key = forms.CharField(
        label="Ed25519 public key",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Base64 of the 32 raw bytes, or PEM.",
    )
    otp = OtpField()

    def clean_ip_allowlist(self) -> list[str]:
        return _lines(self.cleaned_data["ip_allowlist"])


class ApiKeyUpdateForm(forms.Form):
    label = forms.CharField(max_length=64, required=False)
    ip_allowlist = forms.CharField(
        label="Allowed addresses",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )
    expires_at = forms.DateTimeField(
        label="Expires",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    otp = OtpField()

    def clean_ip_allowlist(self) -> list[str]:
        return _lines(self.cleaned_data["ip_allowlist"])
