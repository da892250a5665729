"""Batch placement and batch cancel: many orders of one user in one request, for
algorithmic clients and market makers.

Every item keeps the rules of `order_place` / `order_cancel` and ends on its own:
created, replayed (an existing order with the same client_order_id and request,
or an earlier item of the same batch) or refused with the single path's
`ApplicationError`; a refused item writes nothing and does not stop the others.
Items are judged in the order given, each against what the accepted items
before it left: funds, the open-order limit, client order ids.

The point is the cost per order: a batch is a fixed number of SQL statements
whatever its size. On PostgreSQL (docs/trading.md, "Batches"): the lock statement
(user row, every named instrument's rules, status and last price, KYC, fee
overrides, the new orders' ids drawn from the sequence), the open-order count
with the client order ids already used, the accounts' lock, the holds with their
journals, entries and balance moves, then one insert each for the orders, their
status rows, their commands (in item order: the matcher's arrival order) and the
balance events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.guards import email_verified_require
from accounts.models import User
from config.bulk import (
    bulk_update_rows,
    column_in,
    insert_rows,
    insert_rows_together,
    inserts_deferred,
    instance_from_row,
    model_columns,
    next_id_sql,
)
from config.errors import ApplicationError
from kyc.models import KycStatus
from kyc.selectors import kyc_require_verified
from trading.errors import TradingErrorCode as Code
from trading.models import Instrument, Order, OrderCommand, OrderStatusChange
from trading.selectors import (
    PLACEMENT_RULE_COLUMNS,
    instrument_rules,
    instruments_for_orders,
    open_order_count,
    unknown_symbol,
)
from trading.services.matching import matching_schedule
from trading.services.orders import (
    _PLACEMENT_USER_COLUMNS,
    OrderRequest,
    _bad,
    _cheapest_lot,
    _check_band,
    _existing_for_client_id,
    _hold_asset,
    _hold_terms,
    _is_market_buy,
    _market_buy_limit,
    _new_order,
    _no_lot_affordable,
    _not_trading,
    _order_not_found,
    _order_not_open,
    _own_order,
    _own_orders_sql,
    _parse,
    _too_many_open_orders,
)
from wallet.ledger import HoldRequest, NewHolds, holds_lock_new
from wallet.models import Asset, Hold


@dataclass(frozen=True)
class PlaceResult:
    """One item of a batch placement: `order` (`created`, or False for a replay of
    an order placed before), or `error` (nothing written for it)."""

    order: Order | None = None
    created: bool = False
    error: ApplicationError | None = None


@dataclass(frozen=True)
class CancelResult:
    """One id of a batch cancel: `order` (open, its cancel requested), or
    `error`."""

    order_id: int
    order: Order | None = None
    error: ApplicationError | None = None


def batch_size_check(items, *, field: str) -> None:
    """1 to `TRADING_BATCH_MAX_ORDERS` items, or 400 naming `field`."""
    maximum = settings.TRADING_BATCH_MAX_ORDERS
    if not isinstance(items, list | tuple) or not items:
        raise _bad(field, f"send a list of 1 to {maximum} items.")
    if len(items) > maximum:
        raise _bad(field, f"at most {maximum} per request, not {len(items)}.")


# --- placing ----------------------------------------------------------------------

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
}
_FIELDS = {"symbol", "client_order_id", *_DEFAULTS}


@dataclass
class _Item:
    """One item on its way: parsed against an instrument copy before the lock,
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


@dataclass(frozen=True)
class _InstrumentState:
    rules: tuple
    status: str
    last_price_ticks: int | None
    fee_override: tuple[int, int] | None


@dataclass(frozen=True)
class _BatchState:
    kyc_approved: bool
    instruments: dict[int, _InstrumentState]
    order_ids: list[int]  # drawn from the sequence (PostgreSQL), else empty


def _lock_for_batch(
    user: User, instrument_ids: Sequence[int], id_count: int
) -> _BatchState:
    """`_lock_for_placement` for a batch: the user's row locked (the same lock,
    so the user's single and batch placements take turns), and in the same
    statement every named instrument's rules, status and last price, the user's
    KYC approval and fee overrides, and (PostgreSQL) `id_count` new order ids."""
    connection = transaction.get_connection()
    params: list = [KycStatus.APPROVED]
    if connection.vendor == "postgresql":
        # evaluated once (an uncorrelated subquery), whatever the rows
        # the sequence's name from the catalog, the count a parameter
        drawn = next_id_sql(Order)
        next_ids = f"ARRAY(SELECT {drawn} FROM generate_series(1, %s))"  # noqa: S608
        params += [id_count]
    else:
        next_ids = "NULL"
    instrument_in, instrument_params = column_in("i.id", list(instrument_ids))
    sql = (
        # names from the models, values as parameters
        f"SELECT {PLACEMENT_RULE_COLUMNS}, i.id, i.status,"  # noqa: S608
        f" i.last_price_ticks, {_PLACEMENT_USER_COLUMNS}, n.ids"
        f" FROM {User._meta.db_table} u"
        f" CROSS JOIN (SELECT {next_ids} AS ids) n"
        f" LEFT JOIN {Instrument._meta.db_table} i ON {instrument_in}"
        f" LEFT JOIN {Asset._meta.db_table} b ON b.id = i.base_id"
        f" LEFT JOIN {Asset._meta.db_table} q ON q.id = i.quote_id"
        " WHERE u.id = %s"
    )
    params += [*instrument_params, user.pk]
    if connection.features.has_select_for_update_of:
        sql += " FOR NO KEY UPDATE OF u"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    instruments = {}
    width = len(PLACEMENT_RULE_COLUMNS.split(","))
    for row in rows:
        rules, rest = tuple(row[:width]), row[width:]
        instrument_id, status, last_price, _, maker_bps, taker_bps, _ = rest
        if instrument_id is not None:
            instruments[instrument_id] = _InstrumentState(
                rules=rules,
                status=status,
                last_price_ticks=last_price,
                fee_override=None if maker_bps is None else (maker_bps, taker_bps),
            )
    kyc_approved, ids = rows[0][width + 3], rows[0][-1]
    return _BatchState(
        kyc_approved=bool(kyc_approved),
        instruments=instruments,
        order_ids=sorted(ids or []),
    )


def _open_count_and_orders(user: User, client_ids: list[str]) -> tuple[int, dict]:
    """The user's open orders (counted, for the limit) and their orders already
    using these client order ids, read after the lock in one statement."""
    if not client_ids:
        return open_order_count(user=user), {}
    table = Order._meta.db_table
    statuses = [status.value for status in Order.OPEN_STATUSES]
    client_in, client_params = column_in("o.client_order_id", client_ids)
    sql = (
        # names from the model, values as parameters
        f"SELECT (SELECT count(*) FROM {table} c WHERE c.user_id = %s"  # noqa: S608
        f" AND c.status IN ({', '.join(['%s'] * len(statuses))})),"
        f" {model_columns(Order, 'o')}"
        " FROM (SELECT 1 AS one) x"
        f" LEFT JOIN {table} o ON o.user_id = %s AND {client_in}"
    )
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, [user.pk, *statuses, user.pk, *client_params])
        rows = cursor.fetchall()
    orders = [instance_from_row(Order, row[1:]) for row in rows if row[1] is not None]
    return rows[0][0], {order.client_order_id: order for order in orders}


_NO_FUNDS = Code.INSUFFICIENT_FUNDS


def _replayed(order: Order, instruments: dict[int, Instrument]) -> Order:
    """An order placed before, with an instrument the output can format by."""
    instrument = instruments.get(order.instrument_id)
    if instrument is None:  # not one this batch names (recreated symbol): read it
        instrument = Instrument.objects.select_related("base", "quote").get(
            pk=order.instrument_id
        )
    order.instrument = instrument
    return order


def order_place_batch(*, user: User, orders: list[dict]) -> list[PlaceResult]:
    """Place up to `TRADING_BATCH_MAX_ORDERS` orders (each a dict of
    `order_place`'s keyword arguments, symbols may differ), each judged on its
    own in the given order: created, replayed (created=False) or refused
    (`error`). Everything accepted is written in one transaction; KYC not
    approved refuses the whole batch (403). After commit, one matching job per
    instrument with new orders."""
    email_verified_require(user=user)
    batch_size_check(orders, field="orders")
    items = [_item(raw) for raw in orders]
    named = [item for item in items if not item.malformed]
    instruments = instruments_for_orders(symbols={item.key for item in named})
    for item in named:
        _judge_shape(item, instruments)
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _place_locked(user, items, instruments)
        except IntegrityError:
            # A twin with the same client_order_id committed first, past the
            # lock (only a writer that skipped it could): the retry replays it.
            if attempt == 2 or not any(item.client_order_id for item in named):
                raise
    raise AssertionError("unreachable")


def _place_locked(
    user: User, items: list[_Item], instruments: dict[str, Instrument]
) -> list[PlaceResult]:
    named = [item for item in items if not item.malformed]
    by_id = {instrument.pk: instrument for instrument in instruments.values()}
    state = _lock_for_batch(
        user, sorted(by_id), sum(item.request is not None for item in named)
    )
    kyc_require_verified(user=user, approved=state.kyc_approved)
    stale = {
        key
        for key, instrument in instruments.items()
        if (current := state.instruments.get(instrument.pk)) is None
        or current.rules != instrument_rules(instrument)
    }
    if stale:
        # This process's copies are stale: read them again, judge their items
        # again (a rule edited in the admin applies from the next order), and
        # read the current state of what they are now.
        fresh = instruments_for_orders(symbols=stale, refresh=True)
        for key in stale:
            instruments.pop(key, None)
        instruments.update(fresh)
        for item in named:
            if item.key in stale:
                _judge_shape(item, instruments)
        by_id = {instrument.pk: instrument for instrument in instruments.values()}
        state = _lock_for_batch(
            user, sorted(by_id), sum(item.request is not None for item in named)
        )
        for item in named:  # deleted between the two statements
            if item.instrument and item.instrument.pk not in state.instruments:
                item.request, item.error = None, unknown_symbol(item.symbol)
    for pk, instrument in by_id.items():
        if (current := state.instruments.get(pk)) is not None:
            instrument.status = current.status
            instrument.last_price_ticks = current.last_price_ticks

    client_ids = sorted(
        {
            item.client_order_id
            for item in named
            if item.request and item.client_order_id
        }
    )
    open_count, used = _open_count_and_orders(user, client_ids)
    assets = {
        _hold_asset(item.instrument, item.request)
        for item in named
        if item.request and item.instrument.status == Instrument.Status.TRADING
    }
    holds = holds_lock_new(user=user, assets=sorted(assets, key=lambda a: a.pk))
    order_ids = iter(state.order_ids)
    taken: dict[str, Order] = {}  # client order id -> order of this batch
    new: list[tuple[Order, Hold]] = []
    results: list[PlaceResult] = []
    for item in items:
        if item.error is not None:
            results.append(PlaceResult(error=item.error))
            continue
        instrument, request = item.instrument, item.request
        client_order_id = item.client_order_id
        earlier = taken.get(client_order_id) or used.get(client_order_id)
        if client_order_id and earlier is not None:
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
            _check_band(instrument, request.price_ticks)
            if open_count + len(new) >= settings.TRADING_MAX_OPEN_ORDERS:
                raise _too_many_open_orders()
            fees = state.instruments[instrument.pk].fee_override or (
                instrument.maker_fee_bps,
                instrument.taker_fee_bps,
            )
            asset, amount = _hold_terms(instrument, request, fees)
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
                )
            )
            if isinstance(hold, ApplicationError):
                if market_buy and amount is None and hold.code == _NO_FUNDS:
                    raise _no_lot_affordable(instrument)  # order_place's words
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
        results.append(PlaceResult(order=order, created=True))
    if new:
        _write(new, holds=holds)
        for instrument_id in sorted({order.instrument_id for order, _ in new}):
            matching_schedule(instrument_id=instrument_id)
    return results


def _write(new: list[tuple[Order, Hold]], *, holds: NewHolds) -> None:
    """The accepted orders' rows in two statements on PostgreSQL: the holds'
    (in the ledger), then the orders (already naming their holds: their ids
    were drawn), status rows, commands in item order and the balance events the
    ledger's hook made. Elsewhere a statement per table."""
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


# --- cancelling -------------------------------------------------------------------


def _pending_cancels(order_ids: list[int]) -> set[int]:
    if not order_ids:
        return set()
    order_in, params = column_in("order_id", order_ids)
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            # names from the model, values as parameters
            f"SELECT order_id FROM {OrderCommand._meta.db_table}"  # noqa: S608
            f" WHERE {order_in} AND kind = %s AND processed_at IS NULL",
            [*params, OrderCommand.Kind.CANCEL.value],
        )
        return {order_id for (order_id,) in cursor.fetchall()}


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@transaction.atomic
def order_cancel_batch(*, user: User, order_ids: list[int]) -> list[CancelResult]:
    """Ask the matcher to cancel up to `TRADING_BATCH_MAX_ORDERS` orders, in one
    transaction: the user's listed orders locked in pk order (one statement),
    then for each id, in the order given, `order_cancel`'s outcome: the order,
    open, with a cancel command (none added while one is pending), or 404
    `order_not_found` (not the user's, or none), 409 `order_not_open`. The
    commands go in with one statement; one matching job per instrument."""
    batch_size_check(order_ids, field="ids")
    wanted = sorted({pk for pk in order_ids if _is_id(pk)})
    orders: dict[int, Order] = {}
    if wanted:
        connection = transaction.get_connection()
        order_in, params = column_in("o.id", wanted)
        sql = _own_orders_sql(f" WHERE {order_in} AND o.user_id = %s ORDER BY o.id")
        if connection.features.has_select_for_update_of:
            sql += " FOR UPDATE OF o"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, user.pk])
            rows = cursor.fetchall()
        copies: dict[int, Instrument] = {}  # one checked copy per instrument
        orders = {order.pk: order for order in (_own_order(r, copies) for r in rows)}
    pending = _pending_cancels([pk for pk, order in orders.items() if order.is_open])
    commands: list[OrderCommand] = []
    results: list[CancelResult] = []
    for order_id in order_ids:
        if not _is_id(order_id):
            error = _bad("ids", f"{order_id!r} is not an order id.")
            results.append(CancelResult(order_id=order_id, error=error))
            continue
        order = orders.get(order_id)
        if order is None or not order.is_open:
            error = _order_not_open(order) if order else _order_not_found(order_id)
            results.append(CancelResult(order_id=order_id, error=error))
            continue
        if order.pk not in pending:
            pending.add(order.pk)
            commands.append(
                OrderCommand(
                    instrument=order.instrument,
                    order=order,
                    kind=OrderCommand.Kind.CANCEL,
                )
            )
        results.append(CancelResult(order_id=order_id, order=order))
    insert_rows(commands)
    for instrument_id in sorted({command.instrument_id for command in commands}):
        matching_schedule(instrument_id=instrument_id)
    return results


__all__ = [
    "CancelResult",
    "PlaceResult",
    "batch_size_check",
    "order_cancel_batch",
    "order_place_batch",
]
