"""Back-office writes on users' orders, recorded in the audit trail."""

from __future__ import annotations

from django.db import transaction

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from trading.models import Order
from trading.services.orders import order_cancel


@transaction.atomic
def order_cancel_by_operator(
    *, order: Order, operator: User, meta: RequestMeta | None = None
) -> Order:
    """Cancel a user's order on their behalf (same path as the user's own cancel:
    a command for the matcher) and record who did it, in one transaction."""
    order = order_cancel(user=order.user, order_id=order.pk)
    audit_event_record(
        code=AuditCode.ORDER_CANCELLED_BY_OPERATOR,
        user=order.user,
        acting_user=operator,
        target=order,
        meta=meta,
        extra={
            "symbol": order.instrument.symbol,
            "status": order.status,
            "client_order_id": order.client_order_id,
        },
    )
    return order
