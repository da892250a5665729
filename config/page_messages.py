"""What a page says when a service says no (docs/retail-pages.md, "the message
rule").

The API speaks to programs: a stable `code`, a `message` that starts with the
field ("amount: insufficient funds, 12.00 USD available but 9640100.00 needed.")
and `details` by field. A page speaks to people, so every page form turns a
refusal into a sentence here, from its code: numbers with thousands separators
and their asset code, no field names, no internal words. The API is unchanged.

`page_message(exc)` is the sentence; `form_add_error(form, exc)` puts it on the
form, under the field the refusal names when the form has that field."""

from __future__ import annotations

import re
from collections.abc import Callable

from config.domain_errors import ApplicationError

_NUMBER = r"-?\d+(?:\.\d+)?"
_FIELD_PREFIX = re.compile(r"^[a-z_]+: ")
# "amount: has more than ..." reads "The amount has more than ..."
_VERBS = {"is", "has", "must", "was", "cannot", "can", "needs", "does", "should"}


def group_digits(number: str) -> str:
    """ "9640100.00" -> "9,640,100.00"; anything not a plain decimal is unchanged."""
    if not re.fullmatch(_NUMBER, number or ""):
        return number
    sign = "-" if number.startswith("-") else ""
    whole, dot, fraction = number.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"


def _group_all(text: str) -> str:
    """Every plain decimal in `text` with separators (ids are never in sentences)."""
    return re.sub(r"(?<![\w.#])\d{4,}(?:\.\d+)?", lambda m: group_digits(m[0]), text)


def _plain(exc: ApplicationError) -> str:
    """The API's message as a sentence: "amount: has more than 2 decimal places."
    reads "The amount has more than 2 decimal places."; other field prefixes are
    dropped and the rest capitalised ("otp: two-factor is on; ..." reads
    "Two-factor is on; ..."); digits grouped."""
    message = exc.message.strip()
    prefix = _FIELD_PREFIX.match(message)
    rest = _group_all(message[prefix.end() :] if prefix else message)
    if prefix and rest.split(" ", 1)[0] in _VERBS:
        field = prefix[0][:-2].replace("_", " ")
        return f"The {field} {rest}"
    if prefix and rest.startswith("not "):
        return f"The {prefix[0][:-2].replace('_', ' ')} is {rest}"
    return rest[:1].upper() + rest[1:]


def _insufficient_funds(exc: ApplicationError) -> str:
    match = re.search(
        rf"({_NUMBER}) ([A-Z0-9]+) (\w+) but ({_NUMBER}) needed", exc.message
    )
    if match:
        have, asset, _kind, need = match.groups()
        return (
            f"Not enough {asset}: this needs {group_digits(need)} {asset} and you "
            f"have {group_digits(have)} {asset} available."
        )
    asset = exc.details.get("asset") if isinstance(exc.details, dict) else None
    match = re.search(r"not enough ([A-Z0-9]+)", exc.message)
    asset = asset or (match[1] if match else None)
    if asset:
        return f"Not enough {asset} available for this."
    return "Not enough funds available for this."


def _not_trading(exc: ApplicationError) -> str:
    match = re.search(r"([A-Z0-9]+-[A-Z0-9]+) is (\w+)", exc.message)
    if not match:
        return "This market is not trading right now."
    symbol, state = match.groups()
    if state == "halted":
        return f"Trading in {symbol} is paused for now. Try again when it resumes."
    if state == "closed":
        return f"{symbol} is no longer traded."
    return f"{symbol} is not trading right now ({state})."


def _unknown_symbol(exc: ApplicationError) -> str:
    return "We do not list that market."


def _price_band(exc: ApplicationError) -> str:
    match = re.search(
        rf"within (\d+)% of the last trade: ({_NUMBER}) to ({_NUMBER})", exc.message
    )
    if match:
        band, low, high = match.groups()
        return (
            f"That price is too far from the last trade. Choose a price between "
            f"{group_digits(low)} and {group_digits(high)} (within {band}%)."
        )
    return "That price is too far from the last trade."


def _minimum(what: str) -> Callable[[ApplicationError], str]:
    def sentence(exc: ApplicationError) -> str:
        match = re.search(rf"at least ({_NUMBER})", exc.message)
        if match:
            return f"The {what} must be at least {group_digits(match[1])}."
        return f"The {what} is below the minimum."

    return sentence


def _order_not_open(exc: ApplicationError) -> str:
    match = re.search(r"order (\d+) is already (\w+)", exc.message)
    if match:
        return f"Order #{match[1]} is already {match[2].replace('_', ' ')}."
    return "That order is already finished."


def _not_in_call(exc: ApplicationError) -> str:
    phase = (exc.details or {}).get("phase") or ["a call"]
    return (
        "Immediate-or-cancel and fill-or-kill orders wait for continuous "
        f"trading; the market is in its {str(phase[0]).replace('_', ' ')} now. "
        "A good-till-cancelled order takes part in the auction."
    )


def _day_needs_calendar(exc: ApplicationError) -> str:
    return (
        "A day order ends when the market closes for the day, and this market "
        "trades around the clock without a close. Choose good till cancelled "
        "or good till date instead."
    )


def _fixed(text: str) -> Callable[[ApplicationError], str]:
    return lambda exc: text


SENTENCES: dict[str, Callable[[ApplicationError], str]] = {
    "insufficient_funds": _insufficient_funds,
    "instrument_not_trading": _not_trading,
    "time_in_force_not_in_call": _not_in_call,
    "day_needs_calendar": _day_needs_calendar,
    "unknown_symbol": _unknown_symbol,
    "price_out_of_band": _price_band,
    "below_min_quantity": _minimum("quantity"),
    "below_min_notional": _minimum("order value"),
    "invalid_tick": _fixed("That price is not a valid step for this market."),
    "invalid_lot": _fixed("That quantity is not a valid step for this market."),
    "too_many_open_orders": lambda exc: (
        "You have reached the limit of open orders. Cancel one to place another."
    ),
    "order_not_open": _order_not_open,
    "order_not_found": _fixed("We could not find that order."),
    "otp_invalid": _fixed(
        "That code is wrong, expired or already used. Check your authenticator "
        "app and try again."
    ),
    "balance_overflow": _fixed("That amount is too large."),
    "invalid_time_zone": _fixed("We do not know that time zone."),
    "invalid_currency": _fixed("We do not list that currency."),
}


def page_message(exc: ApplicationError) -> str:
    """The sentence a page shows for this refusal: the code's own sentence, or
    the API's message without its field name and with grouped digits."""
    sentence = SENTENCES.get(str(exc.code))
    return sentence(exc) if sentence is not None else _plain(exc)


def form_add_error(form, exc: ApplicationError) -> None:
    """The plain sentence on the field the refusal names (when the form has it),
    else at the top of the form."""
    message = page_message(exc)
    for field in exc.details or {}:
        if field in form.fields:
            form.add_error(field, message)
            return
    form.add_error(None, message)


def form_add_problems(form, exc: ApplicationError) -> None:
    """The refusal on the form: the problems the service wrote for the field it
    names (already sentences for people), else its plain page sentence at the
    top of the form. For forms whose fields carry their own explanations
    (sign-up, security, KYC, privacy)."""
    for field, problems in (exc.details or {}).items():
        if field in form.fields:
            form.add_error(field, problems)
            return
    form.add_error(None, page_message(exc))
