"""Batch cancel: many of a user's orders in one request, for algorithmic clients
and market makers. (Batch placement is the placement path itself:
trading/services/orders.py.)

Every id keeps the rules of `order_cancel` and ends on its own; the orders are
locked in one statement and the commands written in one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from accounts.models import User
from config.bulk import insert_rows
from config.domain_errors import ApplicationError
from trading import queries
from trading.models import Instrument, Order, OrderCommand
from trading.services.matching import matching_schedule
from trading.services.orders import (
    _bad,
    _order_not_found,
    _order_not_open,
    _own_order,
    batch_size_check,
)


@dataclass(frozen=True)
class CancelResult:
    """One id of a batch cancel: `order` (open, its cancel requested), or
    `error`."""

    order_id: int
    order: Order | None = None
    error: ApplicationError | None = None


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
    copies: dict[int, Instrument] = {}  # one checked copy per instrument
    orders = {
        order.pk: order
        for order in (
            _own_order(row, copies)
            for row in queries.own_orders_locked(user=user, order_ids=wanted)
        )
    }
    pending = queries.orders_with_pending_cancel(
        order_ids=[pk for pk, order in orders.items() if order.is_open]
    )
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


__all__ = ["CancelResult", "order_cancel_batch"]
