"""Browser forms of the wallet page. Amounts stay text until wallet.money parses
them (exactly, refusing extra decimals)."""

from __future__ import annotations

from django import forms

from wallet.models import Asset, Journal
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
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].choices = _asset_choices()


class DepositForm(_AssetAmountForm):
    pass


class WithdrawalForm(_AssetAmountForm):
    destination = forms.CharField(
        max_length=200, help_text="Bank account, UPI id or wallet address."
    )


class TransferForm(_AssetAmountForm):
    to = forms.EmailField(label="To (email)", max_length=254)
    note = forms.CharField(max_length=140, required=False)


class AlertForm(forms.Form):
    asset = forms.ChoiceField(choices=())
    minimum = forms.CharField(
        max_length=64, required=False, help_text="Leave empty to remove the alert."
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
        help_text="The rail's reference: bank transfer id or transaction hash.",
    )
    note = _note_field()
