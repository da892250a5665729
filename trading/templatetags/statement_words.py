"""The wallet statement in people's words (docs/retail-pages.md, "Statement").

The statement is the wallet's page, and the wallet does not know orders; this
tag library (loaded by templates/wallet/statement.html) does. It groups a page
of ledger entries under the order they belong to (the hold, each fill's legs,
the release) and says what each row did: "Held 21,000.00 USD for buy order
#123", "Bought 0.5 BTC at 42,000.00 USD", "Released 1,000.00 USD from buy order
#123". Entries that belong to no order (deposits, withdrawals, transfers) are
rows of their own. A fixed number of queries per page (holds, orders, trades).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import template
from django.db.models import Q

from accounts.models import User
from config.page_messages import group_digits
from trading.models import Order, Trade
from trading.units import lots_to_quantity, ticks_to_price
from wallet.models import Account, Entry, Hold, Journal
from wallet.money import format_units
from wallet.selectors import entry_description

register = template.Library()


@dataclass
class StatementGroup:
    head: str  # "" for a row of its own
    order_id: int | None
    rows: list[dict] = field(default_factory=list)


def _order_id(entry: Entry, holds: dict[int, Hold]) -> int | None:
    journal = entry.journal
    meta = journal.metadata or {}
    if journal.kind == Journal.Kind.TRADE:
        return None  # both sides' orders: decided with the user's orders below
    if meta.get("order"):
        return int(meta["order"])
    if journal.reference.startswith("order:"):
        head = journal.reference.split(":")[1]
        return int(head) if head.isdigit() else None
    hold = holds.get(meta.get("hold") or 0)
    if hold is not None and hold.reference_kind == "order":
        return int(hold.reference_id) if hold.reference_id.isdigit() else None
    return None


def _amount(entry: Entry) -> str:
    asset = entry.account.asset
    return (
        f"{group_digits(format_units(abs(entry.amount), asset.decimals))} {asset.code}"
    )


def _trimmed(quantity: str) -> str:
    """ "0.50000000" -> "0.5", "2.00000000" -> "2": a quantity as people say it."""
    if "." in quantity:
        quantity = quantity.rstrip("0").rstrip(".")
    return group_digits(quantity)


def _sentence(entry: Entry, order: Order | None, trade: Trade | None, user) -> str:
    journal = entry.journal
    meta = journal.metadata or {}
    amount = _amount(entry)
    held = entry.account.kind == Account.Kind.HELD
    if order is not None:
        what = f"{order.side} order #{order.pk}"
        if journal.kind == Journal.Kind.HOLD:
            return (
                f"Held {amount} for {what}"
                if held
                else f"Set aside {amount} for {what}"
            )
        if journal.kind == Journal.Kind.RELEASE:
            return (
                f"Released {amount} from {what}"
                if held
                else f"{amount} back to available from {what}"
            )
        if journal.kind == Journal.Kind.TRADE and trade is not None:
            instrument = order.instrument
            quantity = _trimmed(lots_to_quantity(instrument, trade.quantity_lots))
            price = group_digits(ticks_to_price(instrument, trade.price_ticks))
            deal = (
                f"{quantity} {instrument.base.code} at {price} {instrument.quote.code}"
            )
            if order.side == Order.Side.BUY:
                return f"Bought {deal}" if not held else f"Paid {amount} for {deal}"
            return f"Sold {deal}" if held else f"Received {amount} for {deal}"
    if journal.kind == Journal.Kind.DEPOSIT:
        number = f" (deposit #{meta['deposit']})" if meta.get("deposit") else ""
        return f"Deposited {amount}{number}"
    if "withdrawal" in meta:
        number = f"withdrawal #{meta['withdrawal']}"
        if journal.kind == Journal.Kind.HOLD:
            return (
                f"Held {amount} for {number}"
                if held
                else f"Set aside {amount} for {number}"
            )
        if journal.kind == Journal.Kind.RELEASE:
            return (
                f"Released {amount} from {number}"
                if held
                else f"{amount} back to available from {number}"
            )
        if meta.get("returned"):
            return f"Returned {amount}: {number} could not be paid out"
        return f"Withdrew {amount} ({number})"
    return entry_description(entry, user=user)


@register.simple_tag
def statement_groups(rows: list[dict], user: User) -> list[StatementGroup]:
    """`rows` are the statement page's rows (each with its `entry`), newest
    first; the groups keep that order, each order's group where its newest
    entry is."""
    entries = [row["entry"] for row in rows]
    hold_ids: set[int] = {
        int((e.journal.metadata or {})["hold"])
        for e in entries
        if (e.journal.metadata or {}).get("hold")
    }
    holds = {h.pk: h for h in Hold.objects.filter(pk__in=hold_ids)}
    trade_keys = set()
    candidate_orders: set[int] = set()
    for e in entries:
        meta = e.journal.metadata or {}
        if e.journal.kind == Journal.Kind.TRADE and meta.get("seq") is not None:
            trade_keys.add((meta.get("symbol"), meta["seq"]))
            candidate_orders.update(
                int(meta[k]) for k in ("buy_order", "sell_order") if meta.get(k)
            )
        else:
            order_id = _order_id(e, holds)
            if order_id is not None:
                candidate_orders.add(order_id)
    orders = {
        o.pk: o
        for o in Order.objects.filter(
            pk__in=candidate_orders, user=user
        ).select_related("instrument__base", "instrument__quote")
    }
    trades: dict[tuple, Trade] = {}
    if trade_keys:
        query = Q()
        for symbol, seq in trade_keys:
            query |= Q(instrument__symbol=symbol, seq=seq)
        for found in Trade.objects.filter(query).select_related("instrument"):
            trades[(found.instrument.symbol, found.seq)] = found

    groups: list[StatementGroup] = []
    by_order: dict[int, StatementGroup] = {}
    for row in rows:
        entry = row["entry"]
        meta = entry.journal.metadata or {}
        trade: Trade | None = None
        if entry.journal.kind == Journal.Kind.TRADE:
            trade = trades.get((meta.get("symbol"), meta.get("seq")))
            mine = [
                int(meta[k])
                for k in ("buy_order", "sell_order")
                if meta.get(k) and int(meta[k]) in orders
            ]
            order_id = mine[0] if mine else None
        else:
            order_id = _order_id(entry, holds)
        order = orders.get(order_id) if order_id is not None else None
        described = {**row, "text": _sentence(entry, order, trade, user)}
        if order is None:
            groups.append(StatementGroup(head="", order_id=None, rows=[described]))
            continue
        group = by_order.get(order.pk)
        if group is None:
            head = (
                f"{order.get_side_display()} order #{order.pk} · "
                f"{order.instrument.symbol} · {order.get_status_display().lower()}"
            )
            group = StatementGroup(head=head, order_id=order.pk)
            by_order[order.pk] = group
            groups.append(group)
        group.rows.append(described)
    return groups
