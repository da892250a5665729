"""The user stream's order, fill and balance messages, built in the matcher.

Every order a run changes becomes an order message, every fill a fill message,
every moved balance a balance message: a run of hundreds of commands formats
thousands of amounts. `OrderOutputSerializer` (the API's shape, and the schema
these messages follow) walked its fields and the unit helpers re-checked their
arguments and re-read the instrument's scales for each amount. Here an
instrument's scales are read once (`formats_for`) into closures that turn
integer ticks, lots and units into decimal strings by string arithmetic (no
Decimal, no serializer), and datetimes are formatted once per value per run.

The output is byte-identical to the serializer's and `messages.fill`'s: the
amounts through `wallet.money.format_units`' own rule, the times as DRF's
`DateTimeField` writes them (the current time zone, `Z` for UTC).
`marketdata/tests/test_formats.py` holds both to the same JSON text on random
rows at every scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from django.utils import timezone

from trading.fees import RECEIVED
from trading.models import Fill, Instrument, Order

Format = Callable[[int], str]


def units_formatter(decimals: int, step: int = 1) -> Format:
    """`units * step` as a decimal string at `decimals` places: the rule of
    `wallet.money.format_units`, with the scale fixed once."""
    if decimals <= 0:
        if step == 1:
            return str

        def whole(units: int) -> str:
            return str(units * step)

        return whole
    width = decimals + 1
    cut = -decimals

    def scaled(units: int) -> str:
        units *= step
        if units < 0:
            digits = str(-units).rjust(width, "0")
            return f"-{digits[:cut]}.{digits[cut:]}"
        digits = str(units).rjust(width, "0")
        return f"{digits[:cut]}.{digits[cut:]}"

    return scaled


@dataclass(frozen=True, slots=True)
class InstrumentFormats:
    """An instrument's scales, read once: its amounts as decimal strings."""

    symbol: str
    base_id: int
    base_code: str
    quote_code: str
    base_decimals: int
    lot_size: int
    price: Format  # ticks
    quantity: Format  # lots
    quote: Format  # quote units
    base: Format  # base units

    def optional_price(self, ticks: int | None) -> str | None:
        return None if ticks is None else self.price(ticks)

    def average_price(self, filled_lots: int, filled_quote: int) -> str | None:
        """`trading.api.serializers.average_price`'s rule: quote per whole base
        unit, rounded half up at the quote's precision."""
        if not filled_lots:
            return None
        base_units = filled_lots * self.lot_size
        numerator = filled_quote * 10**self.base_decimals
        return self.quote((2 * numerator + base_units) // (2 * base_units))


# By instrument id and every value the formats depend on: the steps and
# decimals cannot change once the instrument trades, but the key keeps a
# changed row (a test's, an admin's before trading) from reusing stale ones.
_FORMATS: dict[tuple, InstrumentFormats] = {}


def formats_for(instrument: Instrument) -> InstrumentFormats:
    """The instrument's formats (base and quote loaded), built once per process."""
    base, quote = instrument.base, instrument.quote
    key = (
        instrument.pk,
        instrument.symbol,
        instrument.tick_size,
        instrument.lot_size,
        base.pk,
        base.code,
        base.decimals,
        quote.code,
        quote.decimals,
    )
    found = _FORMATS.get(key)
    if found is None:
        found = _FORMATS[key] = InstrumentFormats(
            symbol=instrument.symbol,
            base_id=base.pk,
            base_code=base.code,
            quote_code=quote.code,
            base_decimals=base.decimals,
            lot_size=instrument.lot_size,
            price=units_formatter(quote.decimals, instrument.tick_size),
            quantity=units_formatter(base.decimals, instrument.lot_size),
            quote=units_formatter(quote.decimals),
            base=units_formatter(base.decimals),
        )
    return found


class TimeFormat:
    """Datetimes as DRF's `DateTimeField` writes them, in the time zone current
    when built, each distinct value formatted once (a run stamps every order it
    changes with the same `updated_at`)."""

    __slots__ = ("_done", "_zone")

    def __init__(self, zone: tzinfo | None = None) -> None:
        self._zone = zone or timezone.get_current_timezone()
        self._done: dict[datetime, str] = {}

    def __call__(self, moment: datetime) -> str:
        text = self._done.get(moment)
        if text is None:
            if timezone.is_naive(moment):
                local = timezone.make_aware(moment, self._zone)
            else:
                local = moment.astimezone(self._zone)
            text = local.isoformat()
            if text.endswith("+00:00"):
                text = text[:-6] + "Z"
            self._done[moment] = text
        return text


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value) -> str | None:
    return None if value is None else str(value)


def order_message(formats: InstrumentFormats, order: Order, times: TimeFormat) -> dict:
    """An order as `OrderOutputSerializer` shows it."""
    lots = formats.quantity
    base_fees = order.side == Order.Side.BUY and order.fee_policy == RECEIVED
    trail = order.trail_amount_ticks
    quote_quantity = order.quote_quantity
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "symbol": formats.symbol,
        "side": _text(order.side),
        "type": _text(order.type),
        "time_in_force": _text(order.time_in_force),
        "post_only": order.post_only,
        "stp": _text(order.stp),
        "price": formats.optional_price(order.price_ticks),
        "stop_price": formats.optional_price(order.stop_price_ticks),
        "quantity": None if order.quantity_lots is None else lots(order.quantity_lots),
        "quote_quantity": (
            None if quote_quantity is None else formats.quote(quote_quantity)
        ),
        "filled_quantity": lots(order.filled_lots),
        "remaining_quantity": lots(order.open_lots),
        "filled_quote": formats.quote(order.filled_quote),
        "average_price": formats.average_price(order.filled_lots, order.filled_quote),
        "fees_paid": (formats.base if base_fees else formats.quote)(order.fees_paid),
        "fee_asset": formats.base_code if base_fees else formats.quote_code,
        "status": _text(order.status),
        "reason": _text(order.reason),
        "stop_triggered": order.stop_triggered,
        "expire_at": None if order.expire_at is None else times(order.expire_at),
        "trailing_amount": None if trail is None else formats.price(trail),
        "trailing_bps": order.trail_bps,
        "oco_partner_id": order.oco_partner_id,
        "created_at": times(order.created_at),
        "updated_at": times(order.updated_at),
    }


def order_messages(instrument: Instrument, orders: Sequence[Order]) -> list[dict]:
    """A run's changed orders (all of `instrument`), as the API shows them."""
    formats = formats_for(instrument)
    times = TimeFormat()
    return [order_message(formats, order, times) for order in orders]


def fill_message(formats: InstrumentFormats, fill: Fill, seq: int) -> dict:
    """A fill as `GET /api/v1/fills` shows it (`messages.fill`)."""
    base_fee = fill.fee_asset_id == formats.base_id
    return {
        "id": fill.pk,
        "trade_id": fill.trade_id,
        "seq": seq,
        "order_id": fill.order_id,
        "symbol": formats.symbol,
        "side": fill.side,
        "liquidity": fill.liquidity,
        "price": formats.price(fill.price_ticks),
        "quantity": formats.quantity(fill.quantity_lots),
        "quote_amount": formats.quote(fill.quote_amount),
        "fee": (formats.base if base_fee else formats.quote)(fill.fee),
        "fee_asset": formats.base_code if base_fee else formats.quote_code,
        "created_at": _iso_utc(fill.created_at),
    }


# By asset decimals: a balance message's three amounts.
_UNITS: dict[int, Format] = {}


def balance_message(code: str, decimals: int, available: int, held: int) -> dict:
    """A user's balance of one asset (`messages.balance`)."""
    text = _UNITS.get(decimals)
    if text is None:
        text = _UNITS[decimals] = units_formatter(decimals)
    return {
        "asset": code,
        "available": text(available),
        "held": text(held),
        "total": text(available + held),
    }


# --- Sessions and call phases (docs/sessions.md, "On the streams") ----------------

NO_INDICATIVE = {
    "price": None,
    "quantity": None,
    "surplus": None,
    "surplus_side": None,
}


def indicative_fields(
    formats: InstrumentFormats,
    price_ticks: int | None,
    lots: int,
    surplus_lots: int,
    surplus_side: str,
) -> dict | None:
    """The uncross as it would be now (REST's and the snapshot's `indicative`):
    None outside a call or when nothing would trade."""
    if price_ticks is None:
        return None
    return {
        "price": formats.price(price_ticks),
        "quantity": formats.quantity(lots),
        "surplus": formats.quantity(surplus_lots),
        "surplus_side": surplus_side or None,
    }


def indicative_message(formats: InstrumentFormats, fields: dict | None) -> dict:
    """The stream's `indicative`: the fields, all null when there is no cross
    (any more) or the call ended."""
    return {
        "type": "indicative",
        "symbol": formats.symbol,
        **(fields or NO_INDICATIVE),
    }


def session_fields(state) -> dict:
    """A `calendars.selectors.SessionState` as REST and the snapshot show it."""
    return {
        "phase": state.phase,
        "next_phase": state.next_phase,
        "next_at": None if state.next_at is None else _iso_utc(state.next_at),
        "halted": state.halted,
    }


def phase_message(symbol: str, state, reason: str, at: datetime) -> dict:
    """The stream's `phase`: the session now, why it moved, and when."""
    return {
        "type": "phase",
        "symbol": symbol,
        **session_fields(state),
        "reason": reason,
        "time": _iso_utc(at),
    }
