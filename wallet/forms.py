"""Browser forms of the wallet page. Amounts stay text until wallet.money parses
them (exactly, refusing extra decimals)."""

from __future__ import annotations

from django import forms

from accounts.selectors import user_has_two_factor
from wallet.destinations import PayoutRail, asset_payout_rails, destination_display
from wallet.models import Asset, Journal
from wallet.providers import provider_default, providers_enabled
from wallet.selectors import beneficiary_usable_list
from wallet.services.approvals import NOTE_MIN_LENGTH


def _asset_choices():
    return [
        (code, code)
        for code in Asset.objects.filter(is_active=True)
        .order_by("code")
        .values_list("code", flat=True)
    ]


class _AssetAmountForm(forms.Form):
    asset = forms.ChoiceField(choices=())
    amount = forms.CharField(
        max_length=64,
        strip=False,  # wallet.money.to_units alone decides the syntax (no spaces)
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].choices = _asset_choices()


PROVIDER_LABELS = {
    "sandbox": "Sandbox (play money)",
    "stripe": "Card (Stripe)",
    "razorpay": "UPI, card or netbanking (Razorpay)",
}


class DepositForm(_AssetAmountForm):
    """Asset, amount and, when more than one is enabled, how to pay."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        enabled = providers_enabled()
        if len(enabled) > 1:
            self.fields["provider"] = forms.ChoiceField(
                label="Pay with",
                choices=[(name, PROVIDER_LABELS.get(name, name)) for name in enabled],
                initial=provider_default(),
            )


class _OtpMixin:
    """Adds an `otp` field when the user has a second factor."""

    fields: dict[str, forms.Field]  # the form's, which this mixes into

    def _add_otp(self, user, *, help_text: str) -> None:
        if user_has_two_factor(user=user):
            self.fields["otp"] = forms.CharField(
                label="Two-factor code",
                max_length=32,
                help_text=help_text,
                widget=forms.TextInput(
                    attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
                ),
            )


class WithdrawalForm(_OtpMixin, _AssetAmountForm):
    beneficiary = forms.TypedChoiceField(
        choices=(),
        coerce=int,
        help_text="A confirmed beneficiary past its cool-off "
        "(manage them on the Beneficiaries page).",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].choices = [
            (asset.code, asset.code)
            for asset in Asset.objects.filter(is_active=True).order_by("code")
            if asset_payout_rails(asset)
        ]
        self.fields["beneficiary"].choices = [
            (
                b.pk,
                f"{b.label} · {b.get_rail_display()} "
                f"{destination_display(rail=b.rail, destination=b.destination)}",
            )
            for b in beneficiary_usable_list(user=user)
        ]
        self._add_otp(user, help_text="From your authenticator app, or a backup code.")


class BeneficiaryForm(forms.Form):
    rail = forms.ChoiceField(label="Type", choices=PayoutRail.choices)
    destination = forms.CharField(
        max_length=200,
        help_text="IBAN; Indian account number and IFSC (e.g. 50100012345678 "
        "HDFC0001234); UPI id (name@handle); Bitcoin or Ethereum address.",
    )
    label = forms.CharField(
        max_length=64, required=False, help_text="A name you will recognise."
    )


class BeneficiaryConfirmForm(_OtpMixin, forms.Form):
    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self._add_otp(user, help_text="Confirms that you added this destination.")


class TransferForm(_AssetAmountForm):
    to = forms.EmailField(label="To (email)", max_length=254)
    note = forms.CharField(max_length=140, required=False)


class AlertForm(forms.Form):
    asset = forms.ChoiceField(choices=())
    minimum = forms.CharField(
        strip=False,  # wallet.money.to_units alone decides the syntax
        max_length=64,
        required=False,
        help_text="Leave empty to remove the alert.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].choices = _asset_choices()


class StatementFilterForm(forms.Form):
    asset = forms.ChoiceField(choices=(), required=False)
    kind = forms.ChoiceField(
        choices=[("", "Any")] + list(Journal.Kind.choices), required=False
    )
    date_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].choices = [("", "Any")] + [
            (code, code)
            for code in Asset.objects.order_by("code").values_list("code", flat=True)
        ]


# --- Back office: the operator's steps on a withdrawal or adjustment ---------------


def _note_field(label: str = "Note") -> forms.CharField:
    return forms.CharField(
        label=label,
        min_length=NOTE_MIN_LENGTH,
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
        help_text=f"Required: at least {NOTE_MIN_LENGTH} characters, typed.",
    )


class OperatorNoteForm(forms.Form):
    """Approve, reject, completed, failed: each needs a typed note."""

    note = _note_field()


class PayoutSentForm(forms.Form):
    payout_reference = forms.CharField(
        label="Payout reference",
        max_length=128,
        required=False,
        help_text="The rail's reference: bank transfer id or transaction hash. "
        "Leave it empty to pay through the configured payout rail when that rail "
        "pays by itself (WALLET_PAYOUT_PROVIDER=sandbox); the manual rail needs it.",
    )
    note = _note_field()


class ReconciliationResolveForm(forms.Form):
    note = _note_field()
    adjustment = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="The adjustment that moved the money, if any (request it under "
        "Adjustments; a second operator approves it).",
    )
