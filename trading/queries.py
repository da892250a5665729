"""The order services' hand-written SQL, each statement behind a name that says
what it does: the ORM's compiler cost more Python than these statements' round
trips on the placement and cancel paths. The services (trading/services/) decide;
these only read and lock rows. Vendor differences live here and in
config/bulk.py, never in the services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db import transaction
from django.db.models import Q, Sum

from accounts.models import User
from config.bulk import column_in, instance_from_row, model_columns, next_id_sql
from kyc.models import KycProfile, KycStatus
from trading.models import FeeOverride, Instrument, Order, OrderCommand, PriceAlert
from trading.selectors import PLACEMENT_RULE_COLUMNS
from wallet.models import Account, Asset
from wallet.queries import (
    ACCOUNT_COLUMNS,
    accounts_from_rows,
    has_alerts_sql,
    owes_sql,
    user_accounts_lock_sql,
    user_accounts_locked,
)


@dataclass(frozen=True)
class InstrumentState:
    """An instrument as a placement must read it under its lock."""

    rules: tuple  # `instrument_rules`' order
    status: str
    last_price_ticks: int | None
    fee_override: tuple[int, int] | None  # the user's (maker, taker), if any


@dataclass(frozen=True)
class PlacementState:
    kyc_approved: bool
    owes: bool  # a receivable below zero: no trading (wallet.queries.owes_sql)
    instruments: dict[int, InstrumentState]
    order_ids: list[int]  # drawn from the sequence (PostgreSQL), else empty


def _fee_override(column: str) -> str:
    """The user's (u) fee override for the instrument (i): its own before the
    default."""
    return (
        f"SELECT f.{column} FROM {FeeOverride._meta.db_table} f"  # noqa: S608
        " WHERE f.user_id = u.id"
        " AND (f.instrument_id = i.id OR f.instrument_id IS NULL)"
        " ORDER BY f.instrument_id IS NULL LIMIT 1"
    )


_RULE_WIDTH = len(PLACEMENT_RULE_COLUMNS.split(","))


def user_lock_for_placement(
    *, user: User, instrument_ids: Sequence[int], new_order_ids: int
) -> PlacementState:
    """Lock the user's row (one placement of a user at a time: without it
    concurrent requests all passed the open-order count together; NO KEY UPDATE,
    because the matcher's fills reference the row), and in the same statement
    read every named instrument's rules, status and last price, the user's KYC
    approval and fee overrides, and (PostgreSQL) `new_order_ids` ids drawn from
    the orders' sequence, so holds can name their orders before the rows exist."""
    connection = transaction.get_connection()
    params: list = [KycStatus.APPROVED]
    if connection.vendor == "postgresql":
        # evaluated once (an uncorrelated subquery), whatever the rows; the
        # sequence's name from the catalog, the count a parameter
        drawn = next_id_sql(Order)
        next_ids = f"ARRAY(SELECT {drawn} FROM generate_series(1, %s))"  # noqa: S608
        params += [new_order_ids]
    else:
        next_ids = "NULL"
    instrument_in, instrument_params = column_in("i.id", list(instrument_ids))
    sql = (
        # names from the models, values as parameters
        f"SELECT {PLACEMENT_RULE_COLUMNS}, i.id, i.status,"  # noqa: S608
        " i.last_price_ticks,"
        f" EXISTS (SELECT 1 FROM {KycProfile._meta.db_table} k"
        "  WHERE k.user_id = u.id AND k.status = %s),"
        f" ({_fee_override('maker_fee_bps')}), ({_fee_override('taker_fee_bps')}),"
        f" {owes_sql('u.id')},"
        " n.ids"
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
    for row in rows:
        rules, rest = tuple(row[:_RULE_WIDTH]), row[_RULE_WIDTH:]
        instrument_id, status, last_price, _, maker_bps, taker_bps, _, _ = rest
        if instrument_id is not None:
            instruments[instrument_id] = InstrumentState(
                rules=rules,
                status=status,
                last_price_ticks=last_price,
                fee_override=None if maker_bps is None else (maker_bps, taker_bps),
            )
    kyc_approved, owes, ids = rows[0][_RULE_WIDTH + 3], rows[0][-2], rows[0][-1]
    return PlacementState(
        kyc_approved=bool(kyc_approved),
        owes=bool(owes),
        instruments=instruments,
        order_ids=sorted(ids or []),
    )


def open_orders_and_client_ids(
    *, user: User, client_ids: Sequence[str]
) -> tuple[int, dict[str | None, Order]]:
    """How many open orders the user has (counted by the partial index
    `order_open_by_user`) and their orders already using these client order
    ids, in one statement."""
    table = Order._meta.db_table
    statuses = [status.value for status in Order.OPEN_STATUSES]
    count = (
        f"SELECT count(*) FROM {table} c WHERE c.user_id = %s"  # noqa: S608
        f" AND c.status IN ({', '.join(['%s'] * len(statuses))})"
    )
    if not client_ids:
        with transaction.get_connection().cursor() as cursor:
            cursor.execute(count, [user.pk, *statuses])
            return cursor.fetchone()[0], {}
    client_in, client_params = column_in("o.client_order_id", list(client_ids))
    sql = (
        # names from the model, values as parameters
        f"SELECT ({count}), {model_columns(Order, 'o')}"  # noqa: S608
        " FROM (SELECT 1 AS one) x"
        f" LEFT JOIN {table} o ON o.user_id = %s AND {client_in}"
    )
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, [user.pk, *statuses, user.pk, *client_params])
        rows = cursor.fetchall()
    orders = [instance_from_row(Order, row[1:]) for row in rows if row[1] is not None]
    return rows[0][0], {order.client_order_id: order for order in orders}


def open_orders_and_accounts_locked(
    *, user: User, client_ids: Sequence[str], asset_ids: Sequence[int]
) -> tuple[int, dict[str | None, Order], list[Account], bool]:
    """Under the user's lock (`user_lock_for_placement`, an earlier statement:
    this one's snapshot sees every order a placement of theirs committed): how
    many open orders the user has, their orders already using these client
    order ids, and their available and held accounts of these assets, locked
    in pk order by the ledger's own statement
    (`wallet.queries.user_accounts_lock_sql`), and whether the user has a
    balance alert (`wallet.queries.has_alerts_sql`, exact under the user's
    lock), in one statement on PostgreSQL. An order found by its client order
    id (a retry, rare) is read by a second. Elsewhere
    `open_orders_and_client_ids`, then the ledger's lock, the alerts not read
    (True: the alerts' statement runs as for any posting)."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        open_count, by_client_id = open_orders_and_client_ids(
            user=user, client_ids=client_ids
        )
        locked = user_accounts_locked(user_id=user.pk, asset_ids=asset_ids)
        return open_count, by_client_id, locked, True
    table = Order._meta.db_table
    lock, lock_params = user_accounts_lock_sql(user_id=user.pk, asset_ids=asset_ids)
    statuses = [status.value for status in Order.OPEN_STATUSES]
    client_in, client_params = column_in("o.client_order_id", list(client_ids))
    sql = (
        # names from the models, values as parameters; the CTE is materialized
        # so that its lock is taken as written, in pk order
        f"WITH a AS MATERIALIZED ({lock})"  # noqa: S608
        f" SELECT (SELECT count(*) FROM {table} c WHERE c.user_id = %s"
        f"  AND c.status IN ({', '.join(['%s'] * len(statuses))})),"
        f" ARRAY(SELECT o.id FROM {table} o WHERE o.user_id = %s AND {client_in}),"
        f" {has_alerts_sql('%s')},"
        f" {', '.join(f'a.{column}' for column in ACCOUNT_COLUMNS)}"
        " FROM (SELECT 1 AS one) x LEFT JOIN a ON TRUE ORDER BY a.id"
    )
    params = [*lock_params, user.pk, *statuses, user.pk, *client_params, user.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    count, used_ids, alerts = rows[0][:3]
    accounts = accounts_from_rows([row[3:] for row in rows if row[3] is not None])
    used: dict[str | None, Order] = {}
    if used_ids:
        orders_in, orders_params = column_in("o.id", list(used_ids))
        with connection.cursor() as cursor:
            cursor.execute(
                # names from the model, values as parameters
                f"SELECT {model_columns(Order, 'o')} FROM {table} o"  # noqa: S608
                f" WHERE {orders_in}",
                orders_params,
            )
            orders = [instance_from_row(Order, row) for row in cursor.fetchall()]
        used = {order.client_order_id: order for order in orders}
    return count, used, accounts, alerts


# Columns of the user's orders (o) with their instrument's rules (i, b, q), status
# and last price: what a cancel or an amend reads under its lock.
OWN_ORDER_WIDTH = len(Order._meta.concrete_fields)


def own_orders_locked(*, user: User, order_ids: Sequence[int]) -> list[tuple]:
    """Rows of the user's orders with these ids (others' are not found), locked
    in pk order (the matcher writes them), each with its instrument's rules,
    status and last price: `OWN_ORDER_WIDTH` order columns, then those."""
    if not order_ids:
        return []
    connection = transaction.get_connection()
    order_in, params = column_in("o.id", sorted(order_ids))
    sql = (
        # names from the models, values as parameters
        f"SELECT {model_columns(Order, 'o')}, {PLACEMENT_RULE_COLUMNS},"  # noqa: S608
        " i.status, i.last_price_ticks"
        f" FROM {Order._meta.db_table} o"
        f" JOIN {Instrument._meta.db_table} i ON i.id = o.instrument_id"
        f" JOIN {Asset._meta.db_table} b ON b.id = i.base_id"
        f" JOIN {Asset._meta.db_table} q ON q.id = i.quote_id"
        f" WHERE {order_in} AND o.user_id = %s ORDER BY o.id"
    )
    if connection.features.has_select_for_update_of:
        sql += " FOR UPDATE OF o"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, user.pk])
        return cursor.fetchall()


def orders_with_pending_cancel(*, order_ids: Sequence[int]) -> set[int]:
    """Those of these orders that have a cancel command not yet applied."""
    if not order_ids:
        return set()
    order_in, params = column_in("order_id", list(order_ids))
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            # names from the model, values as parameters
            f"SELECT order_id FROM {OrderCommand._meta.db_table}"  # noqa: S608
            f" WHERE {order_in} AND kind = %s AND processed_at IS NULL",
            [*params, OrderCommand.Kind.CANCEL.value],
        )
        return {order_id for (order_id,) in cursor.fetchall()}


def price_alerts_crossed_lock(
    *, instrument_id: int, low_ticks: int, high_ticks: int, now: datetime
) -> list[PriceAlert]:
    """The instrument's active alerts that a run whose trades ranged from
    `low_ticks` to `high_ticks` crosses (`above` at or under the highest price,
    `below` at or over the lowest), not resting in a cool-down at `now`: one
    statement, by the partial index `price_alert_armed`, the rows locked in pk
    order for the matcher's run to fire them."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("alerts are fired inside the matching run")
    return list(
        PriceAlert.objects.filter(instrument_id=instrument_id, active=True)
        .filter(
            Q(condition=PriceAlert.Condition.ABOVE, price_ticks__lte=high_ticks)
            | Q(condition=PriceAlert.Condition.BELOW, price_ticks__gte=low_ticks)
        )
        .filter(Q(cooldown_until__isnull=True) | Q(cooldown_until__lte=now))
        .order_by("pk")
        .select_for_update()
    )


def book_levels(*, instrument_id: int, side: str, limit: int) -> list[tuple[int, int]]:
    """The resting side `side` of an instrument's book from its open orders,
    best first: (price ticks, lots) per level, at most `limit` levels. Waiting
    stops are not in the book; pending orders not yet either."""
    rows = (
        Order.objects.filter(
            instrument_id=instrument_id,
            side=side,
            status__in=(Order.Status.OPEN, Order.Status.PARTIALLY_FILLED),
            price_ticks__isnull=False,
            open_lots__gt=0,
        )
        .exclude(type=Order.Type.STOP_LIMIT, stop_triggered=False)
        .values("price_ticks")
        .annotate(lots=Sum("open_lots"))
        .order_by("-price_ticks" if side == Order.Side.BUY else "price_ticks")
    )
    # price_ticks is not null here (filtered above)
    return [(cast(int, row["price_ticks"]), row["lots"]) for row in rows[:limit]]
