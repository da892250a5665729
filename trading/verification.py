"""Trading's invariant for `manage.py verify_ledger`: every open order's hold holds
exactly what the order still needs, and no closed order keeps anything held."""

from __future__ import annotations

from trading.holds import hold_need
from trading.models import Order, OrderCommand
from wallet.models import Hold


def check_order_holds() -> list[str]:
    problems: list[str] = []
    busy = set(
        OrderCommand.objects.filter(processed_at__isnull=True).values_list(
            "order_id", flat=True
        )
    )
    open_orders = Order.objects.filter(status__in=Order.OPEN_STATUSES).select_related(
        "hold", "instrument__base"
    )
    for order in open_orders.iterator(chunk_size=2000):
        if order.pk in busy:  # a command in flight may have reserved extra
            continue
        if order.hold is None:
            problems.append(f"open order {order.pk} has no hold")
            continue
        need = hold_need(order, order.instrument)
        if need is not None and order.hold.remaining_amount != need:
            problems.append(
                f"order {order.pk} ({order.status}) holds "
                f"{order.hold.remaining_amount} units but needs {need}"
            )
    leftovers = Order.objects.filter(
        status__in=Order.FINAL_STATUSES,
        hold__status=Hold.Status.PENDING,
        hold__remaining_amount__gt=0,
    ).values_list("pk", "status", "hold__remaining_amount")
    for order_id, status, remaining in leftovers:
        problems.append(f"{status} order {order_id} still holds {remaining} units")
    return problems
