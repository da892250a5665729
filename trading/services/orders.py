"""Placing, amending and cancelling orders.

Each is one transaction that validates everything first, then writes the order, its
hold (the reservation in the ledger) and the command the matcher will apply; the
matching job is enqueued only after commit. Insufficient funds and every other
refusal leave nothing written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.guards import email_verified_require
from accounts.models import User
from config.bulk import (
    insert_one,
    inserts_deferred,
    instance_from_row,
    model_columns,
    next_id_sql,
    write_together,
)
from config.errors import ApplicationError, Conflict, Unprocessable
from kyc.models import KycProfile, KycStatus
from kyc.selectors import kyc_require_verified
from trading.errors import TradingErrorCode as Code
from trading.holds import (
    MARKET_TYPES,
    STOP_TYPES,
    buy_hold,
    hold_for,
    market_buy_limit,
)
from trading.models import (
    FeeOverride,
    Instrument,
    Order,
    OrderCommand,
    OrderStatusChange,
)
from trading.selectors import (
    PLACEMENT_RULE_COLUMNS,
    instrument_for_order,
    instrument_get,
    instrument_rules,
    open_order_count,
    unknown_symbol,
)
from trading.services.matching import matching_schedule
from trading.units import price_to_ticks, quantity_to_lots
from wallet.ledger import accounts_lock, hold_adjust, hold_create, user_accounts_ensure
from wallet.models import Asset, Hold
from wallet.money import format_units, to_units


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
    if type in STOP_TYPES and stop_price is None:
        raise _bad("stop_price", "is required for stop orders.")
    if type not in STOP_TYPES and stop_price is not None:
        raise _bad("stop_price", "is only for stop orders.")
    if quote_quantity is not None and not (is_market and side == Order.Side.BUY):
        raise _bad("quote_quantity", "is only for market buys.")
    if quantity is None and quote_quantity is None:
        raise _bad("quantity", "is required.")
    if quantity is None and time_in_force == Order.TimeInForce.FOK:
        raise _bad("quantity", "is required for fill-or-kill orders.")
    if post_only and (is_market or time_in_force != Order.TimeInForce.GTC):
        raise _bad("post_only", "is only for GTC limit orders.")

    price_ticks = None if price is None else price_to_ticks(instrument, price)
    stop_ticks = (
        None
        if stop_price is None
        else price_to_ticks(instrument, stop_price, field="stop_price")
    )
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
    )


def _fee_override(column: str) -> str:
    """The user's (u) fee override for the instrument (i): its own before the
    default."""
    return (
        f"SELECT f.{column} FROM {FeeOverride._meta.db_table} f"  # noqa: S608
        " WHERE f.user_id = u.id"
        " AND (f.instrument_id = i.id OR f.instrument_id IS NULL)"
        " ORDER BY f.instrument_id IS NULL LIMIT 1"
    )


# What a placement reads of the user (u) under the lock, for the instrument (i):
# KYC approved (one parameter: the approved status), maker and taker override.
_PLACEMENT_USER_COLUMNS = (
    f"EXISTS (SELECT 1 FROM {KycProfile._meta.db_table} k"  # noqa: S608
    "  WHERE k.user_id = u.id AND k.status = %s),"
    f" ({_fee_override('maker_fee_bps')}), ({_fee_override('taker_fee_bps')})"
)


@dataclass(frozen=True)
class _PlacementState:
    """What a placement must read current, under its lock."""

    rules: tuple
    status: str
    last_price_ticks: int | None
    kyc_approved: bool
    fee_override: tuple[int, int] | None
    order_id: int | None  # drawn from the sequence (PostgreSQL), else None


def _lock_for_placement(user: User, instrument: Instrument) -> _PlacementState | None:
    """Lock the user's row and read the instrument's rules, status and last price,
    the user's KYC approval and fee override, all in one statement. None when the
    instrument is gone.

    The lock lets one placement per user through at a time: without it concurrent
    requests all passed the open-order count together. NO KEY UPDATE, because the
    matcher's fills reference the row (KEY SHARE). Written in SQL because the ORM
    spent more Python compiling this query than the rest of a placement's reads."""
    connection = transaction.get_connection()
    params: list = [KycStatus.APPROVED]
    if connection.vendor == "postgresql":
        # the new order's id, so that its hold can name it before the row exists
        next_order_id = next_id_sql(Order)
    else:
        next_order_id = "NULL"
    sql = (
        # names from the models, values as parameters
        f"SELECT {PLACEMENT_RULE_COLUMNS}, i.status, i.last_price_ticks,"  # noqa: S608
        f" {_PLACEMENT_USER_COLUMNS},"
        f" {next_order_id}"
        f" FROM {User._meta.db_table} u"
        f" JOIN {Instrument._meta.db_table} i ON i.id = %s"
        f" JOIN {Asset._meta.db_table} b ON b.id = i.base_id"
        f" JOIN {Asset._meta.db_table} q ON q.id = i.quote_id"
        " WHERE u.id = %s"
    )
    params += [instrument.pk, user.pk]
    if connection.features.has_select_for_update_of:
        sql += " FOR NO KEY UPDATE OF u"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    *rules, status, last_price, kyc_approved, maker_bps, taker_bps, order_id = row
    return _PlacementState(
        rules=tuple(rules),
        status=status,
        last_price_ticks=last_price,
        kyc_approved=bool(kyc_approved),
        fee_override=None if maker_bps is None else (maker_bps, taker_bps),
        order_id=order_id,
    )


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


def _hold_terms(
    instrument: Instrument, request: OrderRequest, fees: tuple[int, int]
) -> tuple[Asset, int | None]:
    """(asset, units to hold) for an order with `fees` (maker, taker bps); None:
    the whole available balance (a market buy without quote_quantity spends at
    most what the user holds)."""
    asset = _hold_asset(instrument, request)
    if request.side == Order.Side.SELL:
        return asset, request.quantity_lots * instrument.lot_size
    if request.type in MARKET_TYPES:
        return asset, request.quote_quantity
    notional = (
        request.price_ticks * request.quantity_lots * instrument.notional_per_tick_lot
    )
    return asset, buy_hold(
        notional=notional, fee_policy=instrument.fee_policy, max_bps=max(fees)
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


def _reservation(
    user: User, instrument: Instrument, request: OrderRequest, fees: tuple[int, int]
) -> tuple[Asset, int, int | None]:
    """(asset, units to hold, engine quote limit in ticks x lots)."""
    asset, amount = _hold_terms(instrument, request, fees)
    if not _is_market_buy(request):
        return asset, amount, None
    if amount is None:
        # Reserve the whole available balance (locked first, so the figure is
        # exact); the leftover is released when the order ends.
        available, _ = user_accounts_ensure(user=user, asset=instrument.quote)
        amount = accounts_lock([available.pk])[available.pk].balance
    quote_limit = _market_buy_limit(instrument, amount, fees)
    if quote_limit == 0:
        raise _no_lot_affordable(instrument)
    return asset, amount, quote_limit


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
) -> tuple[Order, bool]:
    """Validate, reserve and queue an order. Returns (order, created): a retry with
    the same client_order_id and body returns the first order, created=False."""
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
    )
    instrument = instrument_for_order(symbol=symbol)
    try:
        request = _parse(instrument, **fields)
    except ApplicationError:  # judged by the current rules, not a stale copy's
        instrument = instrument_for_order(symbol=symbol, refresh=True)
        request = _parse(instrument, **fields)
    fingerprint = request.fingerprint(instrument.symbol)
    if client_order_id:
        existing = Order.objects.filter(user=user, client_order_id=client_order_id)
        if (order := existing.first()) is not None:
            return _existing_for_client_id(order, fingerprint), False
    with transaction.atomic():
        state = _lock_for_placement(user, instrument)
        if state is None or state.rules != instrument_rules(instrument):
            # This process's copy of the rules is stale: validate again.
            instrument = instrument_for_order(symbol=symbol, refresh=True)
            request = _parse(instrument, **fields)
            fingerprint = request.fingerprint(instrument.symbol)
            state = _lock_for_placement(user, instrument)
            if state is None:  # deleted between the two statements
                raise unknown_symbol(symbol)
        instrument.status = state.status
        instrument.last_price_ticks = state.last_price_ticks
        if client_order_id:  # a retry that waited for the lock: the first order
            existing = Order.objects.filter(user=user, client_order_id=client_order_id)
            if (order := existing.first()) is not None:
                return _existing_for_client_id(order, fingerprint), False
        kyc_require_verified(user=user, approved=state.kyc_approved)
        if instrument.status != Instrument.Status.TRADING:
            raise _not_trading(instrument)
        _check_band(instrument, request.price_ticks)
        fees = state.fee_override or (
            instrument.maker_fee_bps,
            instrument.taker_fee_bps,
        )
        if open_order_count(user=user) >= settings.TRADING_MAX_OPEN_ORDERS:
            raise _too_many_open_orders()
        asset, amount, quote_limit = _reservation(user, instrument, request, fees)
        order = _new_order(
            user=user,
            instrument=instrument,
            request=request,
            fingerprint=fingerprint,
            client_order_id=client_order_id,
            fees=fees,
            quote_limit=quote_limit,
        )
        # A savepoint only where a unique client_order_id can collide.
        try:
            with transaction.atomic(savepoint=bool(client_order_id)):
                if state.order_id is None:  # no id drawn (SQLite): the row first
                    insert_one(order)
                else:
                    order.pk = state.order_id
                # The hold's balance event goes in with the order's rows below.
                with inserts_deferred() as events:
                    order.hold = hold_create(
                        user=user,
                        asset=asset,
                        amount=amount,
                        reference_kind="order",
                        reference_id=str(order.pk),
                        metadata={"symbol": instrument.symbol},
                        new_reference=True,
                    )
                    rows = [
                        OrderStatusChange(order=order, to_status=Order.Status.PENDING),
                        OrderCommand(
                            instrument=instrument,
                            order=order,
                            kind=OrderCommand.Kind.PLACE,
                        ),
                        *events,
                    ]
                    if state.order_id is None:
                        write_together(updates=[(order, ["hold"])], inserts=rows)
                    else:  # the order goes in after its hold, with the rest
                        write_together(inserts=[order, *rows])
        except IntegrityError:
            # The same client_order_id raced us and committed first.
            existing = Order.objects.filter(user=user, client_order_id=client_order_id)
            if not client_order_id or (first := existing.first()) is None:
                raise
            return _existing_for_client_id(first, fingerprint), False
        matching_schedule(instrument_id=instrument.pk)
    return order, True


# One of the user's orders (o) with its instrument's rules (i, b, q), status and
# last price: `_own_order` reads the rows.
_OWN_ORDER_SELECT = (
    # names from the models
    f"SELECT {{order_columns}}, {PLACEMENT_RULE_COLUMNS},"  # noqa: S608
    " i.status, i.last_price_ticks"
    f" FROM {Order._meta.db_table} o"
    f" JOIN {Instrument._meta.db_table} i ON i.id = o.instrument_id"
    f" JOIN {Asset._meta.db_table} b ON b.id = i.base_id"
    f" JOIN {Asset._meta.db_table} q ON q.id = i.quote_id"
)


def _own_orders_sql(where: str) -> str:
    return _OWN_ORDER_SELECT.format(order_columns=model_columns(Order, "o")) + where


def _own_order(row, instruments: dict[int, Instrument] | None = None) -> Order:
    """The order of a row of `_own_orders_sql`, its instrument this process's copy
    (reloaded if a rule differs) with the status and last price just read.
    `instruments`: copies already checked in this call, by id."""
    width = len(Order._meta.concrete_fields)
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
    return ApplicationError(
        Code.ORDER_NOT_FOUND, f"order {order_id} not found.", status_code=404
    )


def _order_not_open(order: Order) -> Conflict:
    return Conflict(Code.ORDER_NOT_OPEN, f"order {order.pk} is already {order.status}.")


def _locked_own_order(user: User, order_id: int) -> Order:
    """One of the user's orders, locked (the matcher writes it), with its
    instrument's rules, status and last price, in one statement; the instrument is
    this process's copy, reloaded if a rule differs, with the status and last
    price just read (an amend is judged by them). In SQL because the ORM spent
    most of a cancel's Python compiling this query."""
    connection = transaction.get_connection()
    sql = _own_orders_sql(" WHERE o.id = %s AND o.user_id = %s")
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF o"
    with connection.cursor() as cursor:
        cursor.execute(sql, [order_id, user.pk])
        row = cursor.fetchone()
    if row is None:
        raise _order_not_found(order_id)
    return _own_order(row)


def _pending_cancel(order: Order) -> bool:
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            # names from the model, values as parameters
            f"SELECT 1 FROM {OrderCommand._meta.db_table}"  # noqa: S608
            " WHERE order_id = %s AND kind = %s AND processed_at IS NULL LIMIT 1",
            [order.pk, OrderCommand.Kind.CANCEL.value],
        )
        return cursor.fetchone() is not None


@transaction.atomic
def order_cancel(*, user: User, order_id: int) -> Order:
    """Ask the matcher to cancel. Idempotent while the cancel is pending; a closed
    order is a 409. Works on halted instruments too."""
    order = _locked_own_order(user, order_id)
    if not order.is_open:
        raise _order_not_open(order)
    if not _pending_cancel(order):
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
    orders = list(orders.order_by("pk"))
    pending = set(
        OrderCommand.objects.filter(
            order__in=orders, kind=OrderCommand.Kind.CANCEL, processed_at__isnull=True
        ).values_list("order_id", flat=True)
    )
    commands = [
        OrderCommand(
            instrument_id=order.instrument_id,
            order=order,
            kind=OrderCommand.Kind.CANCEL,
        )
        for order in orders
        if order.pk not in pending
    ]
    OrderCommand.objects.bulk_create(commands)
    for instrument_id in sorted({order.instrument_id for order in orders}):
        matching_schedule(instrument_id=instrument_id)
    return [order.pk for order in orders]


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
    price_after, total_after = order.price_ticks, order.quantity_lots
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
    hold = Hold.objects.select_for_update().get(pk=order.hold_id)
    hold_added = 0
    if need > hold.remaining_amount:
        extra = need - hold.remaining_amount
        hold_adjust(
            hold=order.hold,
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
