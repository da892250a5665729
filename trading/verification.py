"""Trading's invariant for `manage.py verify_ledger`: every open order's hold holds
exactly what the order still needs, and no closed order keeps anything held. The
two legs of an OCO pair share one hold: it must hold what the larger open leg
needs (trading/holds.py), and a closed leg's open partner still owns it."""

from __future__ import annotations

from django.db.models import F, Q

from trading.holds import hold_need, hold_need_shared
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
        "hold", "instrument__base", "oco_partner"
    )
    for order in open_orders.iterator(chunk_size=2000):
        partner = order.oco_partner
        if order.pk in busy or (partner is not None and partner.pk in busy):
            continue  # a command in flight may have reserved extra
        if order.hold is None:
            problems.append(f"open order {order.pk} has no hold")
            continue
        if partner is not None and partner.hold_id == order.hold_id:
            need = hold_need_shared([order, partner], order.instrument)
        else:
            need = hold_need(order, order.instrument)
        if need is not None and order.hold.remaining_amount != need:
            problems.append(
                f"order {order.pk} ({order.status}) holds "
                f"{order.hold.remaining_amount} units but needs {need}"
            )
    leftovers = (
        Order.objects.filter(
            status__in=Order.FINAL_STATUSES,
            hold__status=Hold.Status.PENDING,
            hold__remaining_amount__gt=0,
        )
        # a closed OCO leg whose partner is still open: the partner's hold now
        .exclude(
            Q(oco_partner__isnull=False)
            & Q(oco_partner__status__in=Order.OPEN_STATUSES)
            & Q(oco_partner__hold=F("hold"))
        )
        .values_list("pk", "status", "hold__remaining_amount")
    )
    for order_id, status, remaining in leftovers:
        problems.append(f"{status} order {order_id} still holds {remaining} units")
    return problems
