"""Browser forms of the wallet page. Amounts stay text until wallet.money parses
them (exactly, refusing extra decimals)."""

from __future__ import annotations

from django import forms

from wallet.models import Asset, Journal


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
