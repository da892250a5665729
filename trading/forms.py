"""Filter forms of the trading pages (GET only; writes go through services)."""

from __future__ import annotations

from django import forms

from trading.models import Instrument, Order
from wallet.models import Asset


def _symbols() -> list[tuple[str, str]]:
    symbols = Instrument.objects.order_by("symbol").values_list("symbol", flat=True)
    return [("", "Any")] + [(s, s) for s in symbols]


class OrderFilterForm(forms.Form):
    symbol = forms.ChoiceField(choices=(), required=False)
    status = forms.ChoiceField(
        choices=[("", "Any")] + list(Order.Status.choices), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["symbol"].choices = _symbols()


class FillFilterForm(forms.Form):
    symbol = forms.ChoiceField(choices=(), required=False)
    side = forms.ChoiceField(
        choices=[("", "Any")] + list(Order.Side.choices), required=False
    )
    date_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["symbol"].choices = _symbols()


class PortfolioQuoteForm(forms.Form):
    quote = forms.ChoiceField(choices=(), label="Value in")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quote"].choices = [
            (code, code)
            for code in Asset.objects.order_by("code").values_list("code", flat=True)
        ]
