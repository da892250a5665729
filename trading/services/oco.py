"""Placing a one-cancels-the-other pair: a limit leg and a stop leg of the same
side and quantity, written in one transaction with ONE hold sized to the larger
leg's need (only one leg can ever trade it) and a place command per leg. The
matcher sends the pair to the engine as one `PlaceOco`; when a leg leaves, the
hold is released down to the survivor's need (docs/trading.md, "Order types").
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from typing import cast

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.guards import email_verified_require
from accounts.models import User
from config.bulk import bulk_update_rows
from config.domain_errors import ApplicationError
from config.logging import log_bind
from config.metrics import orders_observe
from kyc.selectors import kyc_require_verified
from trading import queries
from trading.models import Instrument, Order
from trading.selectors import instruments_for_orders
from trading.services.matching import matching_schedule, matching_schedule_at
from trading.services.orders import (
    HoldTerms,
    OrderRequest,
    _bad,
    _check_band,
    _check_trailing,
    _existing_for_client_id,
    _hold_asset,
    _hold_terms,
    _Item,
    _judge_shape,
    _lock,
    _market_buy_limit,
    _new_order,
    _not_trading,
    _too_many_open_orders,
    _write,
)
from wallet.ledger import HoldRequest, holds_lock_new
from wallet.money import format_units
from wallet.selectors import restriction_error

_OCO_TIFS = (Order.TimeInForce.GTC, Order.TimeInForce.GTD)


def _legs(
    *,
    symbol: str,
    side: str,
    quantity: str | None,
    price: str | None,
    stop_price: str | None,
    trailing_amount: str | None,
    trailing_bps: int | None,
    stop_limit_price: str | None,
    time_in_force: str,
    expire_at: datetime | str | None,
    post_only: bool,
    client_order_id: str | None,
) -> tuple[_Item, _Item]:
    """The two legs as placement items; the shape errors of the pair itself."""
    if time_in_force not in _OCO_TIFS:
        raise _bad("time_in_force", "must be gtc or gtd for an OCO pair.")
    if quantity is None:
        raise _bad("quantity", "is required.")
    if price is None:
        raise _bad("price", "is required (the limit leg's price).")
    if stop_price is None and trailing_amount is None and trailing_bps is None:
        raise _bad("stop_price", "is required (or trailing_amount / trailing_bps).")
    common = {
        "side": side,
        "time_in_force": time_in_force,
        "stp": Order.STP.EXPIRE_TAKER,
        "quantity": quantity,
        "quote_quantity": None,
        "expire_at": expire_at,
    }
    limit_fields = {
        **common,
        "type": Order.Type.LIMIT,
        "post_only": post_only,
        "price": price,
        "stop_price": None,
        "trailing_amount": None,
        "trailing_bps": None,
    }
    stop_fields = {
        **common,
        "type": (
            Order.Type.STOP_MARKET
            if stop_limit_price is None
            else Order.Type.STOP_LIMIT
        ),
        "post_only": False,
        "price": stop_limit_price,
        "stop_price": stop_price,
        "trailing_amount": trailing_amount,
        "trailing_bps": trailing_bps,
    }
    key = (symbol or "").strip().upper()
    return (
        _Item(
            symbol=symbol,
            key=key,
            fields=limit_fields,
            client_order_id=client_order_id or None,
        ),
        _Item(symbol=symbol, key=key, fields=stop_fields),
    )


def _check_leg_prices(
    instrument: Instrument, limit: OrderRequest, stop_ticks: int
) -> None:
    """With a last price: a sell pair takes profit above it and stops below it,
    a buy pair the reverse; anything else would fill or trigger at once."""
    last = instrument.last_price_ticks
    if last is None:
        return
    shown = format_units(last * instrument.tick_size, instrument.quote.decimals)
    limit_ticks = cast(int, limit.price_ticks)
    if limit.side == Order.Side.SELL:
        if limit_ticks <= last:
            raise _bad("price", f"must be above the last price {shown} (sell OCO).")
        if stop_ticks >= last:
            raise _bad(
                "stop_price", f"must be below the last price {shown} (sell OCO)."
            )
    else:
        if limit_ticks >= last:
            raise _bad("price", f"must be below the last price {shown} (buy OCO).")
        if stop_ticks <= last:
            raise _bad("stop_price", f"must be above the last price {shown} (buy OCO).")


def _pair_amount(terms: tuple[HoldTerms, HoldTerms]) -> int | None:
    """The shared hold: the larger leg's. A market buy stop leg counts at its
    bound (its cap above the stop price), None when it has none."""
    amounts = [t.amount if t.amount is not None else t.maximum for t in terms]
    if any(amount is None for amount in amounts):
        return None
    return max(cast(int, amount) for amount in amounts)


def _named(error: ApplicationError, *, stop: bool) -> ApplicationError:
    """A stop leg's error about its `price` names the pair's field for it,
    `stop_limit_price`."""
    if not stop or "price" not in error.details:
        return error
    details = {
        ("stop_limit_price" if name == "price" else name): value
        for name, value in error.details.items()
    }
    message = error.message
    if message.startswith("price:"):
        message = "stop_limit_price:" + message[len("price:") :]
    return type(error)(error.code, message, details=details)


def _fingerprint(limit: _Item, stop: _Item) -> str:
    raw = f"oco:{limit.fingerprint}:{stop.fingerprint}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _partner(order: Order) -> Order:
    partner = Order.objects.select_related("instrument__base", "instrument__quote")
    return partner.get(pk=cast(int, order.oco_partner_id))


def _place_oco_locked(
    user: User, limit: _Item, stop: _Item, instruments: dict[str, Instrument]
) -> tuple[list[Order], bool]:
    state = _lock(user, [limit, stop], instruments)
    kyc_require_verified(user=user, approved=state.kyc_approved)
    if state.owes:
        raise restriction_error()
    for item in (limit, stop):
        if item.error is not None:
            raise _named(item.error, stop=item is stop)
    instrument = cast(Instrument, limit.instrument)
    limit_req = cast(OrderRequest, limit.request)
    stop_req = cast(OrderRequest, stop.request)
    fingerprint = _fingerprint(limit, stop)
    client_ids = [limit.client_order_id] if limit.client_order_id else []
    open_count, used = queries.open_orders_and_client_ids(
        user=user, client_ids=client_ids
    )
    earlier = used.get(limit.client_order_id) if limit.client_order_id else None
    if earlier is not None:
        order = _existing_for_client_id(earlier, fingerprint)
        order.instrument = instrument
        if order.oco_partner_id is None:
            return [order], False
        return [order, _partner(order)], False
    if instrument.status != Instrument.Status.TRADING:
        raise _not_trading(instrument)
    _check_band(instrument, limit_req.price_ticks)
    try:
        _check_band(instrument, stop_req.price_ticks)
    except ApplicationError as exc:
        raise _named(exc, stop=True) from None
    stop_req = replace(stop_req, stop_price_ticks=_check_trailing(instrument, stop_req))
    _check_leg_prices(instrument, limit_req, cast(int, stop_req.stop_price_ticks))
    if open_count + 2 > settings.TRADING_MAX_OPEN_ORDERS:
        raise _too_many_open_orders()
    fees = state.instruments[instrument.pk].fee_override or (
        instrument.maker_fee_bps,
        instrument.taker_fee_bps,
    )
    terms = (
        _hold_terms(instrument, limit_req, fees),
        _hold_terms(instrument, stop_req, fees),
    )
    amount = _pair_amount(terms)
    holds = holds_lock_new(user=user, assets=[_hold_asset(instrument, limit_req)])
    hold = holds.add(
        HoldRequest(
            asset=terms[0].asset,
            amount=amount,
            reference_kind="order",
            metadata={"symbol": instrument.symbol, "oco": True},
        )
    )
    if isinstance(hold, ApplicationError):
        raise hold
    market_buy = stop_req.side == Order.Side.BUY and (
        stop_req.type == Order.Type.STOP_MARKET
    )
    orders = [
        _new_order(
            user=user,
            instrument=instrument,
            request=request,
            fingerprint=print_,
            client_order_id=client_order_id,
            fees=fees,
            quote_limit=quote_limit,
        )
        for request, print_, client_order_id, quote_limit in (
            (limit_req, fingerprint, limit.client_order_id, None),
            (
                stop_req,
                stop.fingerprint,
                None,
                _market_buy_limit(instrument, hold.amount, fees)
                if market_buy
                else None,
            ),
        )
    ]
    ids = list(state.order_ids)
    if ids:  # drawn from the sequence: the rows name each other as inserted
        orders[0].pk, orders[1].pk = ids[0], ids[1]
        orders[0].oco_partner_id, orders[1].oco_partner_id = ids[1], ids[0]
        hold.reference_id = str(ids[0])
    _write([(order, hold) for order in orders], holds=holds)
    if not ids:  # ids given by the insert (SQLite): link them now
        orders[0].oco_partner_id, orders[1].oco_partner_id = (
            orders[1].pk,
            orders[0].pk,
        )
        bulk_update_rows(Order, orders, ["oco_partner"])
    matching_schedule(instrument_id=instrument.pk)
    if limit_req.expire_at is not None:
        matching_schedule_at(instrument_id=instrument.pk, when=limit_req.expire_at)
    return orders, True


def order_place_oco(
    *,
    user: User,
    symbol: str,
    side: str,
    quantity: str | None,
    price: str | None,
    stop_price: str | None = None,
    trailing_amount: str | None = None,
    trailing_bps: int | None = None,
    stop_limit_price: str | None = None,
    time_in_force: str = Order.TimeInForce.GTC,
    expire_at: datetime | str | None = None,
    post_only: bool = False,
    client_order_id: str | None = None,
) -> tuple[list[Order], bool]:
    """Validate, reserve and queue an OCO pair: ([limit leg, stop leg], created).
    Every placement rule of `order_place` applies to each leg; a retry with the
    same client_order_id (the limit leg's) and body returns the pair placed
    first, created=False."""
    email_verified_require(user=user)
    limit, stop = _legs(
        symbol=symbol,
        side=side,
        quantity=quantity,
        price=price,
        stop_price=stop_price,
        trailing_amount=trailing_amount,
        trailing_bps=trailing_bps,
        stop_limit_price=stop_limit_price,
        time_in_force=time_in_force,
        expire_at=expire_at,
        post_only=post_only,
        client_order_id=client_order_id,
    )
    instruments = instruments_for_orders(symbols={limit.key})
    for item in (limit, stop):
        _judge_shape(item, instruments)
    for item in (limit, stop):
        if item.error is not None:
            raise _named(item.error, stop=item is stop)
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                orders, created = _place_oco_locked(user, limit, stop, instruments)
        except IntegrityError:
            # a twin with the same client_order_id committed first: replay it
            if attempt == 2 or not limit.client_order_id:
                raise
            continue
        except ApplicationError as exc:
            orders_observe(accepted=(), refused=[exc.code])
            raise
        if created:
            orders_observe(accepted=[orders[0].instrument.symbol] * 2, refused=())
        log_bind(order_id=orders[0].pk, instrument_id=orders[0].instrument_id)
        return orders, created
    raise AssertionError("unreachable")
