"""Pages say refusals in plain words (config/page_messages.py); the API keeps its
codes and field names."""

import pytest

from config.domain_errors import ApplicationError, Conflict, Unprocessable
from config.page_messages import form_add_error, group_digits, page_message


@pytest.mark.parametrize(
    "number,grouped",
    [
        ("9640100.00", "9,640,100.00"),
        ("-1234567", "-1,234,567"),
        ("999.99", "999.99"),
        ("0.00020000", "0.00020000"),
        ("market", "market"),
    ],
)
def test_group_digits(number, grouped):
    assert group_digits(number) == grouped


@pytest.mark.parametrize(
    "error,sentence",
    [
        (
            Unprocessable(
                "insufficient_funds",
                "amount: insufficient funds, 12.50 USD available but 9640100.00 "
                "needed.",
                details={"amount": ["..."], "asset": "USD"},
            ),
            "Not enough USD: this needs 9,640,100.00 USD and you have 12.50 USD "
            "available.",
        ),
        (
            Conflict(
                "instrument_not_trading",
                "symbol: BTC-USD is halted; no new orders.",
                details={"symbol": ["Instrument is halted."]},
            ),
            "Trading in BTC-USD is paused for now. Try again when it resumes.",
        ),
        (
            Unprocessable(
                "price_out_of_band",
                "price: must be within 10% of the last trade: 85500.00 to 104500.00.",
            ),
            "That price is too far from the last trade. Choose a price between "
            "85,500.00 and 104,500.00 (within 10%).",
        ),
        (
            Unprocessable(
                "below_min_notional", "quantity: order value must be at least 10.00."
            ),
            "The order value must be at least 10.00.",
        ),
        (
            Conflict(
                "time_in_force_not_in_call",
                "time_in_force: ioc is not accepted during pre_open; the book is "
                "in a call (GTC, GTD or DAY only).",
                details={"time_in_force": ["..."], "phase": ["pre_open"]},
            ),
            "Immediate-or-cancel and fill-or-kill orders wait for continuous "
            "trading; the market is in its pre open now. A good-till-cancelled "
            "order takes part in the auction.",
        ),
        (
            ApplicationError(
                "day_needs_calendar",
                "time_in_force: day needs a trading calendar and BTC-USD has none "
                "(it trades around the clock); use gtc or gtd.",
                details={"time_in_force": ["..."]},
            ),
            "A day order ends when the market closes for the day, and this market "
            "trades around the clock without a close. Choose good till cancelled "
            "or good till date instead.",
        ),
        (
            Conflict("order_not_open", "order 1216 is already filled."),
            "Order #1216 is already filled.",
        ),
        (
            ApplicationError(
                "invalid_amount", "amount: has more than 2 decimal places."
            ),
            "The amount has more than 2 decimal places.",
        ),
        (
            ApplicationError(
                "invalid_destination", "destination: not a valid Bitcoin address."
            ),
            "The destination is not a valid Bitcoin address.",
        ),
        (
            ApplicationError("something_new", "limit: over 25000 a day."),
            "Over 25,000 a day.",
        ),
    ],
)
def test_codes_become_sentences_without_field_names(error, sentence):
    assert page_message(error) == sentence


def test_form_add_error_puts_the_sentence_on_the_named_field():
    from django import forms

    class Form(forms.Form):
        amount = forms.CharField()

    form = Form({"amount": "1"})
    assert form.is_valid()
    form_add_error(
        form,
        Unprocessable(
            "insufficient_funds",
            "amount: insufficient funds, 0.00 USD available but 5.00 needed.",
            details={"amount": ["x"], "asset": "USD"},
        ),
    )
    assert form.errors == {
        "amount": [
            "Not enough USD: this needs 5.00 USD and you have 0.00 USD available."
        ]
    }


def test_form_add_problems_keeps_field_problems_and_plains_the_rest():
    from django import forms

    from config.domain_errors import ApplicationError
    from config.page_messages import form_add_problems

    class Form(forms.Form):
        email = forms.CharField()

    on_field = Form(data={"email": "x"})
    on_field.is_valid()
    form_add_problems(
        on_field,
        ApplicationError(
            "email_taken",
            "email: already registered.",
            details={"email": ["An account already uses this address."]},
        ),
    )
    assert on_field.errors == {"email": ["An account already uses this address."]}
    at_top = Form(data={"email": "x"})
    at_top.is_valid()
    form_add_problems(
        at_top, ApplicationError("insufficient_funds", "amount: 9640100.00 needed.")
    )
    [sentence] = at_top.non_field_errors()
    assert not sentence.startswith("amount:")
