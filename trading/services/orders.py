"""Placing, amending and cancelling orders.

Placement has one path (`_place`) for one order (`order_place`, a batch of one)
and for a batch (`order_place_batch`): each order is parsed and validated (tick,
lot, minimum quantity and notional, price band, open-order limit, client order
id replay or reuse), its hold sized (trading/holds.py) and judged by the ledger
against what the orders before it left, then everything accepted is written in
one transaction: a fixed number of statements whatever the count (on PostgreSQL,
docs/trading.md "Batches"). A refused order writes nothing. Amends and cancels
are one transaction each. Matching jobs are enqueued only after commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.guards import email_verified_require
from accounts.models import User
from config.bulk import (
    bulk_update_rows,
    insert_one,
    insert_rows,
    insert_rows_together,
    inserts_deferred,
    instance_from_row,
)
from config.domain_errors import ApplicationError, Conflict, NotFound, Unprocessable
from config.logging import log_bind
from config.metrics import orders_observe
from kyc.selectors import kyc_require_verified
from trading import queries
from trading.engine import Phase
from trading.errors import TradingErrorCode as Code
from trading.holds import (
    MARKET_TYPES,
    STOP_TYPES,
    buy_hold,
    hold_for,
    market_buy_cap_ticks,
    market_buy_limit,
    trailing_stop_ticks,
)
from trading.models import Instrument, Order, OrderCommand, OrderStatusChange
from trading.phases import PhaseHooks, book_phase, phase_follows_sessions, phase_hooks
from trading.selectors import (
    instrument_for_order,
    instrument_get,
    instrument_rules,
    instruments_for_orders,
    unknown_symbol,
)
from trading.services.matching import matching_schedule, matching_schedule_at
from trading.units import price_to_ticks, quantity_to_lots
from wallet.ledger import HoldRequest, NewHolds, hold_adjust, holds_lock_new
from wallet.models import Asset, Hold
from wallet.money import format_units, to_units
from wallet.selectors import restriction_error


@dataclass(frozen=True)
class OrderRequest:
    """A placement, parsed and checked against the instrument's rules."""

    side: str
    type: str
    time_in_force: str
    post_only: bool
    stp: str
    price_ticks: int | None
    stop_price_ticks: int | None
    quantity_lots: int | None
    quote_quantity: int | None
    expire_at: datetime | None = None
    trail_amount_ticks: int | None = None
    trail_bps: int | None = None

    @property
    def is_trailing(self) -> bool:
        return self.trail_amount_ticks is not None or self.trail_bps is not None

    def fingerprint(self, symbol: str) -> str:
        raw = json.dumps([symbol, *self.__dict__.values()], default=str)
        return hashlib.sha256(raw.encode()).hexdigest()


def _bad(field: str, message: str, code: str = Code.INVALID_ORDER) -> ApplicationError:
    return ApplicationError(code, f"{field}: {message}", details={field: [message]})


def _choice(field: str, value: str, choices) -> str:
    allowed = [choice.value for choice in choices]
    if value not in allowed:
        raise _bad(field, f"must be one of {', '.join(allowed)}.")
    return value


def _parse(
    instrument: Instrument,
    *,
    side: str,
    type: str,
    time_in_force: str,
    post_only: bool,
    stp: str,
    price: str | None,
    stop_price: str | None,
    quantity: str | None,
    quote_quantity: str | None,
    expire_at: datetime | str | None = None,
    trailing_amount: str | None = None,
    trailing_bps: int | None = None,
) -> OrderRequest:
    side = _choice("side", side, Order.Side)
    type = _choice("type", type, Order.Type)
    time_in_force = _choice("time_in_force", time_in_force, Order.TimeInForce)
    stp = _choice("stp", stp, Order.STP)
    is_market = type in MARKET_TYPES
    if is_market and price is not None:
        raise _bad("price", "must be empty for market orders.")
    if not is_market and price is None:
        raise _bad("price", "is required for limit orders.")
    trailing = trailing_amount is not None or trailing_bps is not None
    if type not in STOP_TYPES and trailing:
        name = "trailing_amount" if trailing_amount is not None else "trailing_bps"
        raise _bad(name, "is only for stop orders.")
    if trailing_amount is not None and trailing_bps is not None:
        raise _bad("trailing_bps", "send trailing_amount or trailing_bps, not both.")
    if trailing and stop_price is not None:
        raise _bad("stop_price", "must be empty for a trailing stop (it follows).")
    if type in STOP_TYPES and stop_price is None and not trailing:
        raise _bad(
            "stop_price",
            "is required for stop orders (or trailing_amount / trailing_bps).",
        )
    if type not in STOP_TYPES and stop_price is not None:
        raise _bad("stop_price", "is only for stop orders.")
    trail_bps = _trail_bps(trailing_bps)
    expire = _expire_at(
        expire_at, time_in_force=time_in_force, is_market=type == Order.Type.MARKET
    )
    if quote_quantity is not None and not (is_market and side == Order.Side.BUY):
        raise _bad("quote_quantity", "is only for market buys.")
    if quantity is None and quote_quantity is None:
        raise _bad("quantity", "is required.")
    if quantity is None and time_in_force == Order.TimeInForce.FOK:
        raise _bad("quantity", "is required for fill-or-kill orders.")
    if post_only and (is_market or time_in_force not in _RESTING_TIFS):
        raise _bad("post_only", "is only for GTC, GTD or DAY limit orders.")
    if time_in_force == Order.TimeInForce.DAY:
        _check_day(instrument, type)

    price_ticks = None if price is None else price_to_ticks(instrument, price)
    stop_ticks = (
        None
        if stop_price is None
        else price_to_ticks(instrument, stop_price, field="stop_price")
    )
    if stop_ticks is not None and stop_ticks <= 0:
        raise _bad("stop_price", "must be more than 0.")
    trail_ticks = (
        None
        if trailing_amount is None
        else price_to_ticks(instrument, trailing_amount, field="trailing_amount")
    )
    if trail_ticks is not None and trail_ticks <= 0:
        raise _bad("trailing_amount", "must be more than 0.")
    lots = None if quantity is None else quantity_to_lots(instrument, quantity)
    quote_units = (
        None
        if quote_quantity is None
        else to_units(
            quote_quantity, decimals=instrument.quote.decimals, field="quote_quantity"
        )
    )
    if lots is not None and lots * instrument.lot_size < instrument.min_quantity:
        minimum = format_units(instrument.min_quantity, instrument.base.decimals)
        raise _bad("quantity", f"must be at least {minimum}.", Code.BELOW_MIN_QUANTITY)
    notional = None
    if price_ticks is not None and lots is not None:
        notional = price_ticks * lots * instrument.notional_per_tick_lot
    elif quote_units is not None and lots is None:
        notional = quote_units
    if notional is not None and notional < instrument.min_notional:
        minimum = format_units(instrument.min_notional, instrument.quote.decimals)
        field = "quote_quantity" if price_ticks is None else "quantity"
        raise _bad(
            field, f"order value must be at least {minimum}.", Code.BELOW_MIN_NOTIONAL
        )
    if notional is not None and notional > 2**62:
        raise _bad("quantity", "order value is too large.")
    return OrderRequest(
        side=side,
        type=type,
        time_in_force=time_in_force,
        post_only=bool(post_only),
        stp=stp,
        price_ticks=price_ticks,
        stop_price_ticks=stop_ticks,
        quantity_lots=lots,
        quote_quantity=quote_units,
        expire_at=expire,
        trail_amount_ticks=trail_ticks,
        trail_bps=trail_bps,
    )


_RESTING_TIFS = (Order.TimeInForce.GTC, Order.TimeInForce.GTD, Order.TimeInForce.DAY)
GTD_MAX_DAYS = 365


def _check_day(instrument: Instrument, type: str) -> None:
    """DAY ends with the trading day, which only a calendar has: without one
    the order would never expire (400 `day_needs_calendar`). A plain market
    order never rests, so DAY would mean nothing there (docs/sessions.md)."""
    if type == Order.Type.MARKET:
        raise _bad("time_in_force", "day is only for limit and stop orders.")
    if instrument.calendar_id is None:
        raise _bad(
            "time_in_force",
            f"day needs a trading calendar and {instrument.symbol} has none "
            "(it trades around the clock); use gtc or gtd.",
            Code.DAY_NEEDS_CALENDAR,
        )


def _trail_bps(value) -> int | None:
    """1..9999 basis points of the last price, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad("trailing_bps", "must be a whole number of basis points.")
    if not 1 <= value <= 9_999:
        raise _bad("trailing_bps", "must be from 1 to 9999 basis points.")
    return value


def _expire_at(value, *, time_in_force: str, is_market: bool) -> datetime | None:
    """A GTD order's time: ISO 8601 with an offset, 1 s to 365 days ahead, kept
    to the whole second (the engine's clock ticks in seconds)."""
    if time_in_force != Order.TimeInForce.GTD:
        if value is not None:
            raise _bad("expire_at", "is only for time_in_force gtd.")
        return None
    if is_market:
        raise _bad("time_in_force", "gtd is only for limit and stop orders.")
    if value is None or value == "":
        raise _bad("expire_at", "is required for time_in_force gtd.")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _bad(
                "expire_at", "must be an ISO 8601 time, e.g. 2030-01-31T12:00:00Z."
            ) from None
    if not isinstance(value, datetime):
        raise _bad("expire_at", "must be an ISO 8601 time.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _bad("expire_at", "must carry a UTC offset (Z or +hh:mm).")
    now = timezone.now()
    if value < now + timedelta(seconds=1):
        raise _bad("expire_at", "must be at least 1 second in the future.")
    if value > now + timedelta(days=GTD_MAX_DAYS):
        raise _bad("expire_at", f"must be at most {GTD_MAX_DAYS} days ahead.")
    return value.astimezone(UTC).replace(microsecond=0)


def _check_trailing(instrument: Instrument, request: OrderRequest) -> int | None:
    """A trailing stop's first stop price, drawn from the last trade (read under
    the lock); the engine draws it again when the order arrives. 400 before any
    trade, or when a sell would trail to 0 or below."""
    if not request.is_trailing:
        return request.stop_price_ticks
    name = "trailing_amount" if request.trail_amount_ticks else "trailing_bps"
    last = instrument.last_price_ticks
    if last is None:
        raise _bad(name, "needs a last trade price to follow; none yet.")
    stop = trailing_stop_ticks(
        side=request.side,
        last_ticks=last,
        trail_amount=request.trail_amount_ticks,
        trail_bps=request.trail_bps,
    )
    if stop <= 0:
        raise _bad(name, "is at or above the last price; the stop would be <= 0.")
    return stop


def _check_band(instrument: Instrument, price_ticks: int | None) -> None:
    """Limit prices within `price_band_percent` of the last trade (off without one)."""
    last = instrument.last_price_ticks
    band = instrument.price_band_percent
    if price_ticks is None or last is None or band == 0:
        return
    low = -(-last * (100 - band) // 100)  # rounded inwards: the band never widens
    high = last * (100 + band) // 100
    if not low <= price_ticks <= high:
        lo = format_units(low * instrument.tick_size, instrument.quote.decimals)
        hi = format_units(high * instrument.tick_size, instrument.quote.decimals)
        raise _bad(
            "price",
            f"must be within {band}% of the last trade: {lo} to {hi}.",
            Code.PRICE_OUT_OF_BAND,
        )


def _hold_asset(instrument: Instrument, request: OrderRequest) -> Asset:
    return instrument.base if request.side == Order.Side.SELL else instrument.quote


@dataclass(frozen=True)
class HoldTerms:
    """What an order holds: `amount` units of `asset`, or (amount None, a market
    buy) what is available when its turn comes, at most `maximum` when set."""

    asset: Asset
    amount: int | None
    maximum: int | None = None


def _hold_terms(
    instrument: Instrument, request: OrderRequest, fees: tuple[int, int]
) -> HoldTerms:
    """What an order with `fees` (maker, taker bps) holds. A market buy by
    quantity holds its quantity at a bounded price (the band's top, or the
    slippage limit, above the last trade or its stop price) plus fees, or what
    is available if less; without a reference price, what is available."""
    asset = _hold_asset(instrument, request)
    # `_parse` guarantees a quantity for every sell and every limit order (a
    # quote_quantity is only for market buys) and a price for every limit order.
    if request.side == Order.Side.SELL:
        lots = cast(int, request.quantity_lots)
        return HoldTerms(asset, lots * instrument.lot_size)
    if request.type in MARKET_TYPES:
        if request.quote_quantity is not None:
            return HoldTerms(asset, request.quote_quantity)
        reference = (
            request.stop_price_ticks
            if request.type == Order.Type.STOP_MARKET
            else instrument.last_price_ticks
        )
        cap = market_buy_cap_ticks(
            reference_ticks=reference,
            band_percent=instrument.price_band_percent,
            slippage_percent=settings.TRADING_MARKET_BUY_SLIPPAGE_PERCENT,
        )
        if cap is None:
            return HoldTerms(asset, None)
        lots = cast(int, request.quantity_lots)
        bound = buy_hold(
            notional=cap * lots * instrument.notional_per_tick_lot,
            fee_policy=instrument.fee_policy,
            max_bps=max(fees),
        )
        return HoldTerms(asset, None, maximum=bound)
    lots = cast(int, request.quantity_lots)
    notional = cast(int, request.price_ticks) * lots * instrument.notional_per_tick_lot
    return HoldTerms(
        asset,
        buy_hold(
            notional=notional, fee_policy=instrument.fee_policy, max_bps=max(fees)
        ),
    )


def _market_buy_limit(
    instrument: Instrument, budget: int, fees: tuple[int, int]
) -> int:
    """The engine budget (ticks x lots) of a market buy holding `budget`."""
    return market_buy_limit(
        budget=budget,
        per_tick_lot=instrument.notional_per_tick_lot,
        fee_policy=instrument.fee_policy,
        max_bps=max(fees),
    )


def _cheapest_lot(instrument: Instrument, fees: tuple[int, int]) -> int:
    """What one lot at one tick costs a market buy, fees included: the least
    a market buy must hold."""
    return buy_hold(
        notional=instrument.notional_per_tick_lot,
        fee_policy=instrument.fee_policy,
        max_bps=max(fees),
    )


def _is_market_buy(request: OrderRequest) -> bool:
    return request.side == Order.Side.BUY and request.type in MARKET_TYPES


def _no_lot_affordable(instrument: Instrument) -> Unprocessable:
    return Unprocessable(
        Code.INSUFFICIENT_FUNDS,
        f"quote_quantity: not enough {instrument.quote.code} to buy one lot "
        "at any price.",
        details={"quote_quantity": ["Insufficient funds."]},
    )


# Time in force refused at placement while the session is in a call: the book
# would refuse it anyway (`not_in_call`), but only after the order was written.
_NOT_IN_CALL = frozenset({Order.TimeInForce.IOC, Order.TimeInForce.FOK})


def _check_phase(
    instrument: Instrument, request: OrderRequest, phases: dict[int, str]
) -> None:
    """IOC and FOK are refused while the instrument's session is in a call
    (pre-open, pre-close, an auction, a volatility call): 409
    `time_in_force_not_in_call`, naming the phase (docs/trading.md, "Placement
    per phase"). Instruments without a session are not asked about."""
    if request.time_in_force not in _NOT_IN_CALL or not phase_follows_sessions(
        instrument
    ):
        return
    if instrument.pk not in phases:
        hooks = cast(PhaseHooks, phase_hooks())
        phases[instrument.pk] = hooks.current_phase(instrument_id=instrument.pk)
    phase = phases[instrument.pk]
    if book_phase(phase) is Phase.CALL:
        raise Conflict(
            Code.TIME_IN_FORCE_NOT_IN_CALL,
            f"time_in_force: {request.time_in_force} is not accepted during"
            f" {phase}; the book is in a call (GTC, GTD or DAY only).",
            details={
                "time_in_force": [f"Not accepted during {phase}."],
                "phase": [phase],
            },
        )


def _not_trading(instrument: Instrument) -> Conflict:
    return Conflict(
        Code.INSTRUMENT_NOT_TRADING,
        f"symbol: {instrument.symbol} is {instrument.status}; no new orders.",
        details={"symbol": [f"Instrument is {instrument.status}."]},
    )


def _too_many_open_orders() -> Unprocessable:
    return Unprocessable(
        Code.TOO_MANY_OPEN_ORDERS,
        f"You have {settings.TRADING_MAX_OPEN_ORDERS} open orders, the maximum.",
    )


def _new_order(
    *,
    user: User,
    instrument: Instrument,
    request: OrderRequest,
    fingerprint: str,
    client_order_id: str | None,
    fees: tuple[int, int],
    quote_limit: int | None,
) -> Order:
    """The order row a placement writes (not saved)."""
    return Order(
        user=user,
        instrument=instrument,
        client_order_id=client_order_id or None,
        request_fingerprint=fingerprint,
        side=request.side,
        type=request.type,
        time_in_force=request.time_in_force,
        post_only=request.post_only,
        stp=request.stp,
        price_ticks=request.price_ticks,
        stop_price_ticks=request.stop_price_ticks,
        quantity_lots=request.quantity_lots,
        quote_quantity=request.quote_quantity,
        quote_limit=quote_limit,
        expire_at=request.expire_at,
        trail_amount_ticks=request.trail_amount_ticks,
        trail_bps=request.trail_bps,
        open_lots=request.quantity_lots or 0,
        maker_fee_bps=fees[0],
        taker_fee_bps=fees[1],
        fee_policy=instrument.fee_policy,
    )


def _existing_for_client_id(order: Order, fingerprint: str) -> Order:
    if order.request_fingerprint != fingerprint:
        raise Conflict(
            Code.CLIENT_ORDER_ID_REUSED,
            "client_order_id: already used for a different order.",
            details={"client_order_id": ["Already used with another request."]},
        )
    return order


# --- placing: one path, for one order and for a batch ------------------------------


@dataclass(frozen=True)
class PlaceResult:
    """One item of a placement: `order` (`created`, or False for a replay of
    an order placed before), or `error` (nothing written for it)."""

    order: Order | None = None
    created: bool = False
    error: ApplicationError | None = None
    hold: Hold | None = None  # the new order's hold (a preview's: not written)


def batch_size_check(items, *, field: str) -> None:
    """1 to `TRADING_BATCH_MAX_ORDERS` items, or 400 naming `field`."""
    maximum = settings.TRADING_BATCH_MAX_ORDERS
    if not isinstance(items, list | tuple) or not items:
        raise _bad(field, f"send a list of 1 to {maximum} items.")
    if len(items) > maximum:
        raise _bad(field, f"at most {maximum} per request, not {len(items)}.")


# `order_place`'s keyword arguments after user and symbol, with its defaults
_DEFAULTS = {
    "side": None,
    "type": Order.Type.LIMIT,
    "time_in_force": Order.TimeInForce.GTC,
    "post_only": False,
    "stp": Order.STP.EXPIRE_TAKER,
    "price": None,
    "stop_price": None,
    "quantity": None,
    "quote_quantity": None,
    "expire_at": None,
    "trailing_amount": None,
    "trailing_bps": None,
}
_FIELDS = {"symbol", "client_order_id", *_DEFAULTS}


@dataclass
class _Item:
    """One order on its way: parsed against an instrument copy before the lock,
    judged again if the lock finds the copy stale."""

    symbol: str = ""  # as sent (for the unknown_symbol message)
    key: str = ""  # normalized
    fields: dict = field(default_factory=dict)  # `_parse`'s keywords
    client_order_id: str | None = None
    instrument: Instrument | None = None
    request: OrderRequest | None = None
    fingerprint: str = ""
    malformed: bool = False  # refused whatever the rules (not an order's shape)
    error: ApplicationError | None = None


def _item(raw) -> _Item:
    if not isinstance(raw, Mapping):
        return _Item(malformed=True, error=_bad("orders", "each must be an object."))
    unknown = sorted(set(raw) - _FIELDS, key=str)
    if unknown:
        return _Item(malformed=True, error=_bad(str(unknown[0]), "unknown field."))
    for name in ("symbol", "side"):
        if raw.get(name) in (None, ""):
            return _Item(malformed=True, error=_bad(name, "is required."))
    values = {**_DEFAULTS, **raw}
    symbol = str(raw["symbol"])
    return _Item(
        symbol=symbol,
        key=symbol.strip().upper(),
        fields={name: values[name] for name in _DEFAULTS},
        client_order_id=raw.get("client_order_id") or None,
    )


def _judge_shape(item: _Item, instruments: dict[str, Instrument]) -> None:
    """Parse the item against its instrument's copy (no query)."""
    item.instrument = instruments.get(item.key)
    item.request, item.fingerprint, item.error = None, "", None
    if item.instrument is None:
        item.error = unknown_symbol(item.symbol)
        return
    try:
        item.request = _parse(item.instrument, **item.fields)
    except ApplicationError as exc:
        item.error = exc
        return
    item.fingerprint = item.request.fingerprint(item.instrument.symbol)


def _replayed(order: Order, instruments: dict[int, Instrument]) -> Order:
    """An order placed before, with an instrument the output can format by."""
    instrument = instruments.get(order.instrument_id)
    if instrument is None:  # not one this call names (recreated symbol): read it
        instrument = Instrument.objects.select_related("base", "quote").get(
            pk=order.instrument_id
        )
    order.instrument = instrument
    return order


def order_place(
    *,
    user: User,
    symbol: str,
    side: str,
    type: str = Order.Type.LIMIT,
    time_in_force: str = Order.TimeInForce.GTC,
    post_only: bool = False,
    price: str | None = None,
    stop_price: str | None = None,
    quantity: str | None = None,
    quote_quantity: str | None = None,
    client_order_id: str | None = None,
    stp: str = Order.STP.EXPIRE_TAKER,
    expire_at: datetime | str | None = None,
    trailing_amount: str | None = None,
    trailing_bps: int | None = None,
) -> tuple[Order, bool]:
    """Validate, reserve and queue an order: a batch of one (`_place`), so each
    placement rule is written once. Returns (order, created): a retry with the
    same client_order_id and body returns the first order, created=False."""
    email_verified_require(user=user)
    fields = dict(
        side=side,
        type=type,
        time_in_force=time_in_force,
        post_only=post_only,
        stp=stp,
        price=price,
        stop_price=stop_price,
        quantity=quantity,
        quote_quantity=quote_quantity,
        expire_at=expire_at,
        trailing_amount=trailing_amount,
        trailing_bps=trailing_bps,
    )
    item = _Item(
        symbol=symbol,
        key=(symbol or "").strip().upper(),
        fields=fields,
        client_order_id=client_order_id or None,
    )
    (result,) = _place(user, [item])
    if result.error is not None:
        raise result.error
    # A result without an error has its order (PlaceResult's contract).
    order = cast(Order, result.order)
    log_bind(order_id=order.pk, instrument_id=order.instrument_id)
    return order, result.created


def order_place_judge(
    *,
    user: User,
    symbol: str,
    side: str,
    type: str = Order.Type.LIMIT,
    time_in_force: str = Order.TimeInForce.GTC,
    post_only: bool = False,
    price: str | None = None,
    stop_price: str | None = None,
    quantity: str | None = None,
    quote_quantity: str | None = None,
    stp: str = Order.STP.EXPIRE_TAKER,
    expire_at: datetime | str | None = None,
    trailing_amount: str | None = None,
    trailing_bps: int | None = None,
) -> tuple[Order, Hold]:
    """The order and the hold `order_place` would write for these arguments
    now, judged by the very same path (parse, rules, KYC, band, open-order
    limit, fees, the hold's size against the locked balances) and written
    nowhere: the review's numbers cannot differ from the placement's. Raises
    the error placement would raise."""
    email_verified_require(user=user)
    fields = dict(
        side=side,
        type=type,
        time_in_force=time_in_force,
        post_only=post_only,
        stp=stp,
        price=price,
        stop_price=stop_price,
        quantity=quantity,
        quote_quantity=quote_quantity,
        expire_at=expire_at,
        trailing_amount=trailing_amount,
        trailing_bps=trailing_bps,
    )
    item = _Item(symbol=symbol, key=(symbol or "").strip().upper(), fields=fields)
    instruments = instruments_for_orders(symbols={item.key})
    _judge_shape(item, instruments)
    with transaction.atomic():
        (result,) = _place_locked(user, [item], instruments, write=False)
        # nothing was written; a held account made on first use goes too
        transaction.set_rollback(True)
    if result.error is not None:
        raise result.error
    return cast(Order, result.order), cast(Hold, result.hold)


def order_place_batch(*, user: User, orders: list[dict]) -> list[PlaceResult]:
    """Place up to `TRADING_BATCH_MAX_ORDERS` orders (each a dict of
    `order_place`'s keyword arguments, symbols may differ), each judged on its
    own in the given order: created, replayed (created=False) or refused
    (`error`, nothing written for it), against what the accepted ones before it
    left (funds, the open-order limit, client order ids). Everything accepted is
    written in one transaction; KYC not approved refuses the whole batch (403).
    After commit, one matching job per instrument with new orders."""
    email_verified_require(user=user)
    batch_size_check(orders, field="orders")
    return _place(user, [_item(raw) for raw in orders])


def _place(user: User, items: list[_Item]) -> list[PlaceResult]:
    named = [item for item in items if not item.malformed]
    instruments = instruments_for_orders(symbols={item.key for item in named})
    for item in named:
        _judge_shape(item, instruments)
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                results = _place_locked(user, items, instruments)
            orders_observe(
                accepted=[
                    r.order.instrument.symbol for r in results if r.order and r.created
                ],
                refused=[r.error.code for r in results if r.error is not None],
            )
            return results
        except IntegrityError:
            # A twin with the same client_order_id committed first, past the
            # lock (only a writer that skipped it could): the retry replays it.
            if attempt == 2 or not any(item.client_order_id for item in named):
                raise
        except ApplicationError as exc:  # the whole call refused (KYC)
            orders_observe(accepted=(), refused=[exc.code] * len(items))
            raise
    raise AssertionError("unreachable")


def _lock(
    user: User,
    named: list[_Item],
    instruments: dict[str, Instrument],
    draw_ids: bool = True,
) -> queries.PlacementState:
    """Lock the user (one placement of theirs at a time) and read what the
    placement must read current. Items judged by a copy of an instrument whose
    rules changed are judged again by the current rules (a rule edited in the
    admin applies from the next order)."""
    by_id = {instrument.pk: instrument for instrument in instruments.values()}
    count = sum(item.request is not None for item in named) if draw_ids else 0
    state = queries.user_lock_for_placement(
        user=user, instrument_ids=sorted(by_id), new_order_ids=count
    )
    stale = {
        key
        for key, instrument in instruments.items()
        if (current := state.instruments.get(instrument.pk)) is None
        or current.rules != instrument_rules(instrument)
    }
    if stale:
        fresh = instruments_for_orders(symbols=stale, refresh=True)
        for key in stale:
            instruments.pop(key, None)
        instruments.update(fresh)
        for item in named:
            if item.key in stale:
                _judge_shape(item, instruments)
        by_id = {instrument.pk: instrument for instrument in instruments.values()}
        count = sum(item.request is not None for item in named) if draw_ids else 0
        state = queries.user_lock_for_placement(
            user=user, instrument_ids=sorted(by_id), new_order_ids=count
        )
        for item in named:  # deleted between the two statements
            if item.instrument and item.instrument.pk not in state.instruments:
                item.request, item.error = None, unknown_symbol(item.symbol)
    for pk, instrument in by_id.items():
        if (current := state.instruments.get(pk)) is not None:
            instrument.status = current.status
            instrument.last_price_ticks = current.last_price_ticks
    return state


def _place_locked(
    user: User,
    items: list[_Item],
    instruments: dict[str, Instrument],
    write: bool = True,
) -> list[PlaceResult]:
    """Judge every item under the locks and (`write`) write what is accepted.
    Without `write` (a preview) each accepted result carries its order and its
    hold as placement would write them, and nothing is written or scheduled."""
    named = [item for item in items if not item.malformed]
    state = _lock(user, named, instruments, draw_ids=write)
    kyc_require_verified(user=user, approved=state.kyc_approved)
    if state.owes:
        raise restriction_error()
    by_id = {instrument.pk: instrument for instrument in instruments.values()}
    client_ids = sorted(
        {
            item.client_order_id
            for item in named
            if item.request and item.client_order_id
        }
    )
    assets = {  # an item with a request has its instrument (`_judge_shape`)
        _hold_asset(cast(Instrument, item.instrument), item.request)
        for item in named
        if item.request
        and cast(Instrument, item.instrument).status == Instrument.Status.TRADING
    }
    hold_assets = sorted(assets, key=lambda a: a.pk)
    open_count, used, accounts, alerts = queries.open_orders_and_accounts_locked(
        user=user, client_ids=client_ids, asset_ids=[a.pk for a in hold_assets]
    )
    holds = holds_lock_new(
        user=user, assets=hold_assets, locked=accounts, alerts=alerts
    )
    order_ids = iter(state.order_ids)
    taken: dict[str, Order] = {}  # client order id -> order of this call
    new: list[tuple[Order, Hold]] = []
    results: list[PlaceResult] = []
    phases: dict[int, str] = {}  # instrument id -> its session phase, read once
    for item in items:
        if item.error is not None:
            results.append(PlaceResult(error=item.error))
            continue
        # An item without an error was judged: `_judge_shape` set both.
        instrument = cast(Instrument, item.instrument)
        request = cast(OrderRequest, item.request)
        client_order_id = item.client_order_id
        earlier = (
            taken.get(client_order_id) or used.get(client_order_id)
            if client_order_id
            else None
        )
        if earlier is not None:
            try:
                order = _existing_for_client_id(earlier, item.fingerprint)
            except ApplicationError as exc:
                results.append(PlaceResult(error=exc))
                continue
            results.append(PlaceResult(order=_replayed(order, by_id), created=False))
            continue
        try:
            if instrument.status != Instrument.Status.TRADING:
                raise _not_trading(instrument)
            _check_phase(instrument, request, phases)
            _check_band(instrument, request.price_ticks)
            request = replace(
                request, stop_price_ticks=_check_trailing(instrument, request)
            )
            if open_count + len(new) >= settings.TRADING_MAX_OPEN_ORDERS:
                raise _too_many_open_orders()
            fees = state.instruments[instrument.pk].fee_override or (
                instrument.maker_fee_bps,
                instrument.taker_fee_bps,
            )
            terms = _hold_terms(instrument, request, fees)
            asset, amount = terms.asset, terms.amount
            market_buy = _is_market_buy(request)
            if (
                market_buy
                and amount is not None
                and _market_buy_limit(instrument, amount, fees) == 0
            ):
                raise _no_lot_affordable(instrument)
            hold = holds.add(
                HoldRequest(
                    asset=asset,
                    amount=amount,  # None: what is available at this point
                    reference_kind="order",  # its id: named below
                    metadata={"symbol": instrument.symbol},
                    minimum=_cheapest_lot(instrument, fees) if market_buy else 1,
                    maximum=terms.maximum,  # a market buy by quantity's bound
                )
            )
            if isinstance(hold, ApplicationError):
                if market_buy and amount is None and hold.code == _NO_FUNDS:
                    raise _no_lot_affordable(instrument)
                raise hold
        except ApplicationError as exc:
            results.append(PlaceResult(error=exc))
            continue
        order_id = next(order_ids, None)  # None: given by the insert (SQLite)
        hold.reference_id = "" if order_id is None else str(order_id)
        order = _new_order(
            user=user,
            instrument=instrument,
            request=request,
            fingerprint=item.fingerprint,
            client_order_id=client_order_id,
            fees=fees,
            quote_limit=(
                _market_buy_limit(instrument, hold.amount, fees) if market_buy else None
            ),
        )
        order.pk = order_id
        new.append((order, hold))
        if client_order_id:
            taken[client_order_id] = order
        results.append(PlaceResult(order=order, created=True, hold=hold))
    if new and write:
        _write(new, holds=holds)
        for instrument_id in sorted({order.instrument_id for order, _ in new}):
            matching_schedule(instrument_id=instrument_id)
        for order, _ in new:
            if order.expire_at is not None:
                matching_schedule_at(
                    instrument_id=order.instrument_id, when=order.expire_at
                )
    return results


_NO_FUNDS = Code.INSUFFICIENT_FUNDS


def _write(new: list[tuple[Order, Hold]], *, holds: NewHolds) -> None:
    """The accepted orders' rows in two statements on PostgreSQL: the holds'
    (in the ledger), then the orders (already naming their holds: their ids
    were drawn), status rows, commands in item order and the balance events the
    ledger's subscriber made. Elsewhere a statement per table."""
    orders = [order for order, _ in new]
    with inserts_deferred() as events:
        if orders[0].pk is not None:  # ids drawn from the sequence
            holds.write()
            for order, hold in new:
                order.hold = hold
            with_orders = [orders]
        else:  # no sequence to draw from (SQLite): the orders first
            insert_rows(orders)
            for order, hold in new:
                hold.reference_id = str(order.pk)
            holds.write()
            for order, hold in new:
                order.hold = hold
            bulk_update_rows(Order, orders, ["hold"])
            with_orders = []
        insert_rows_together(
            *with_orders,
            [
                OrderStatusChange(order=order, to_status=Order.Status.PENDING)
                for order in orders
            ],
            [
                OrderCommand(
                    instrument=order.instrument,
                    order=order,
                    kind=OrderCommand.Kind.PLACE,
                )
                for order in orders
            ],
            list(events),
        )


# --- amending and cancelling ------------------------------------------------------


def _own_order(row, instruments: dict[int, Instrument] | None = None) -> Order:
    """The order of a row of `queries.own_orders_locked`, its instrument this
    process's copy
    (reloaded if a rule differs) with the status and last price just read.
    `instruments`: copies already checked in this call, by id."""
    width = queries.OWN_ORDER_WIDTH
    order = instance_from_row(Order, row[:width])
    *rules, status, last_price_ticks = row[width:]
    instrument = (instruments or {}).get(order.instrument_id)
    if instrument is None:
        rules = tuple(rules)
        instrument = instrument_for_order(symbol=rules[0])
        if (
            instrument.pk != order.instrument_id
            or instrument_rules(instrument) != rules
        ):
            instrument = instrument_for_order(symbol=rules[0], refresh=True)
        instrument.status, instrument.last_price_ticks = status, last_price_ticks
        if instruments is not None:
            instruments[order.instrument_id] = instrument
    order.instrument = instrument
    return order


def _order_not_found(order_id: int) -> ApplicationError:
    return NotFound(Code.ORDER_NOT_FOUND, f"order {order_id} not found.")


def _order_not_open(order: Order) -> Conflict:
    return Conflict(Code.ORDER_NOT_OPEN, f"order {order.pk} is already {order.status}.")


def _locked_own_order(user: User, order_id: int) -> Order:
    """One of the user's orders, locked (the matcher writes it), with its
    instrument's rules, status and last price, in one statement; the instrument is
    this process's copy, reloaded if a rule differs, with the status and last
    price just read (an amend is judged by them). In SQL because the ORM spent
    most of a cancel's Python compiling this query."""
    rows = queries.own_orders_locked(user=user, order_ids=[order_id])
    if not rows:
        raise _order_not_found(order_id)
    return _own_order(rows[0])


@transaction.atomic
def order_cancel(*, user: User, order_id: int) -> Order:
    """Ask the matcher to cancel. Idempotent while the cancel is pending; a closed
    order is a 409. Works on halted instruments too."""
    log_bind(order_id=order_id)
    order = _locked_own_order(user, order_id)
    if not order.is_open:
        raise _order_not_open(order)
    if order.pk not in queries.orders_with_pending_cancel(order_ids=[order.pk]):
        insert_one(
            OrderCommand(
                instrument=order.instrument, order=order, kind=OrderCommand.Kind.CANCEL
            )
        )
        matching_schedule(instrument_id=order.instrument_id)
    return order


@transaction.atomic
def order_cancel_all(*, user: User, symbol: str | None = None) -> list[int]:
    """Cancel every open order of the user (on one instrument if `symbol`)."""
    orders = Order.objects.select_for_update().filter(
        user=user, status__in=Order.OPEN_STATUSES
    )
    if symbol:
        orders = orders.filter(instrument=instrument_get(symbol=symbol))
    locked = list(orders.order_by("pk"))
    pending = set(
        OrderCommand.objects.filter(
            order__in=locked, kind=OrderCommand.Kind.CANCEL, processed_at__isnull=True
        ).values_list("order_id", flat=True)
    )
    commands = [
        OrderCommand(
            instrument_id=order.instrument_id,
            order=order,
            kind=OrderCommand.Kind.CANCEL,
        )
        for order in locked
        if order.pk not in pending
    ]
    OrderCommand.objects.bulk_create(commands)
    for instrument_id in sorted({order.instrument_id for order in locked}):
        matching_schedule(instrument_id=instrument_id)
    return [order.pk for order in locked]


@transaction.atomic
def order_amend(
    *,
    user: User,
    order_id: int,
    price: str | None = None,
    quantity: str | None = None,
) -> Order:
    """Ask the matcher to amend a resting limit order. `quantity` is the new total
    quantity (filled included). An order that may need more funds reserves the
    extra now (422 if it cannot); the matcher releases whatever turns out unneeded,
    and refuses the amend if fills in between left the hold short."""
    order = _locked_own_order(user, order_id)
    instrument = order.instrument
    if price is None and quantity is None:
        raise _bad("price", "send a new price and/or quantity.")
    if not order.is_open:
        raise Conflict(
            Code.ORDER_NOT_OPEN, f"order {order.pk} is already {order.status}."
        )
    if order.oco_partner_id is not None:
        raise Conflict(
            Code.ORDER_NOT_AMENDABLE,
            "An OCO leg cannot be amended; cancel the pair and place again.",
        )
    if order.type != Order.Type.LIMIT and not (
        order.type == Order.Type.STOP_LIMIT and order.stop_triggered
    ):
        raise Conflict(
            Code.ORDER_NOT_AMENDABLE,
            "Only resting limit orders can be amended; cancel and place again.",
        )
    if order.time_in_force != Order.TimeInForce.GTC:
        raise Conflict(Code.ORDER_NOT_AMENDABLE, "Only GTC orders can be amended.")
    if instrument.status != Instrument.Status.TRADING:
        raise Conflict(
            Code.INSTRUMENT_NOT_TRADING,
            f"symbol: {instrument.symbol} is {instrument.status}; amends wait.",
        )
    new_price = None if price is None else price_to_ticks(instrument, price)
    _check_band(instrument, new_price)
    new_total = None
    if quantity is not None:
        new_total = quantity_to_lots(instrument, quantity)
        if new_total <= order.filled_lots:
            raise _bad(
                "quantity",
                "must be more than the quantity already filled; cancel instead.",
            )
    # What the order will look like once the amends still queued and this one are
    # applied; the hold must cover that. The command keeps the new TOTAL (not the
    # remaining): fills may land before the matcher applies it, and it subtracts
    # the fills it sees then.
    # A resting limit order (checked above) has a price, a quantity and a hold.
    price_after = cast(int, order.price_ticks)
    total_after = cast(int, order.quantity_lots)
    queued = order.commands.filter(
        kind=OrderCommand.Kind.AMEND, processed_at__isnull=True
    ).order_by("pk")
    for earlier in queued:
        price_after = earlier.new_price_ticks or price_after
        total_after = earlier.new_quantity_lots or total_after
    price_after = new_price or price_after
    total_after = new_total or total_after
    remaining_after = max(total_after - order.filled_lots, 0)
    need = hold_for(order, instrument, price_ticks=price_after, lots=remaining_after)
    hold = Hold.objects.select_for_update().get(pk=cast(int, order.hold_id))
    hold_added = 0
    if need > hold.remaining_amount:
        extra = need - hold.remaining_amount
        hold_adjust(
            hold=cast(Hold, order.hold),
            delta=extra,
            reference=f"order:{order.pk}:amend:{order.commands.count()}",
        )
        hold_added = extra
    OrderCommand.objects.create(
        instrument=instrument,
        order=order,
        kind=OrderCommand.Kind.AMEND,
        new_price_ticks=new_price,
        new_quantity_lots=new_total,
        hold_added=hold_added,
    )
    order.updated_at = timezone.now()
    order.save(update_fields=["updated_at"])
    matching_schedule(instrument_id=instrument.pk)
    return order
