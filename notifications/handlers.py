"""From domain events to notifications: the IN_TRANSACTION subscribers wired in
config/subscribers.py. Each turns an event into drafts and calls `notify` in
the cause's transaction (a crash loses nothing, a rollback sends nothing)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.events import SecurityNotice
from kyc.emails import decision_email_text
from kyc.events import KycDecided
from kyc.models import CasePurpose, KycCase
from notifications.models import Notification
from notifications.services import Draft, notify
from trading.events import MatchingRunApplied, PriceAlertTriggered
from trading.models import Order
from trading.units import lots_to_quantity, quote_str, ticks_to_price
from wallet.events import (
    AdjustmentDecided,
    BalanceBelowMinimum,
    DepositCredited,
    TransferReceived,
    WithdrawalDecided,
)
from wallet.models import Adjustment, Asset
from wallet.money import format_units

PARTIAL = "order_partially_filled"


def _amount(asset_code: str, units: int) -> str:
    decimals = Asset.objects.filter(code=asset_code).values_list("decimals", flat=True)
    return f"{format_units(units, decimals.get())} {asset_code}"


# --- Orders (the matcher's hot path: one notify per run) ----------------------------


def _order_line(order: Order) -> str:
    instrument = order.instrument
    quantity = lots_to_quantity(instrument, order.filled_lots)
    total = quote_str(instrument, order.filled_quote)
    return f"{quantity} {instrument.base.code} for {total} {instrument.quote.code}"


def _order_draft(
    order: Order, event_type: str, key: str, title: str, body: str, url: str
) -> Draft:
    instrument = order.instrument
    return Draft(
        user_id=order.user_id,
        event_type=event_type,
        key=key,
        subject=f"order:{order.pk}",
        title=title,
        body=body,
        url=url,
        data={
            "order_id": str(order.pk),
            "symbol": instrument.symbol,
            "side": order.side,
            "status": order.status,
            "filled": lots_to_quantity(instrument, order.filled_lots),
        },
    )


def matching_run_notify(event: MatchingRunApplied) -> None:
    """Fills, system cancels and expiries, rejections after acceptance and
    triggered stops of a run, written in bulk. Partial fills coalesce: at most
    one per order per NOTIFICATIONS_PARTIAL_FILL_COALESCE_SECONDS. The window
    is checked here under the run's instrument lock, which every run touching
    the order holds, so two runs cannot both see it empty; a final fill always
    notifies (its own type and key)."""
    instrument = event.instrument
    url = reverse("trading:orders")  # once per run, not per draft
    filled_now = {fill.order_id for fill in event.fills}
    drafts: list[Draft] = []
    partial: list[Order] = []
    for order in event.orders:
        order.instrument = instrument  # the same row, with base and quote loaded
        side = order.get_side_display().lower()
        ref = f"Your {side} order #{order.pk} on {instrument.symbol}"
        status = order.status
        if status == Order.Status.FILLED:
            drafts.append(
                _order_draft(
                    order,
                    "order_filled",
                    f"order:{order.pk}:filled",
                    f"Order filled: {side} {instrument.symbol}",
                    f"{ref} is filled: {_order_line(order)}.",
                    url,
                )
            )
        elif status == Order.Status.PARTIALLY_FILLED and order.pk in filled_now:
            partial.append(order)
        elif status in (Order.Status.CANCELLED, Order.Status.EXPIRED):
            if order.reason == "user":
                continue  # the user's own cancel: they know
            verb = "cancelled" if status == Order.Status.CANCELLED else "expired"
            done = f" after {_order_line(order)}" if order.filled_lots else ""
            why = f" ({order.reason.replace('_', ' ')})" if order.reason else ""
            drafts.append(
                _order_draft(
                    order,
                    "order_cancelled",
                    f"order:{order.pk}:done",
                    f"Order {verb}: {side} {instrument.symbol}",
                    f"{ref} was {verb} by the system{why}{done}.",
                    url,
                )
            )
        elif status == Order.Status.REJECTED:
            why = order.reason.replace("_", " ") or "not accepted by the book"
            drafts.append(
                _order_draft(
                    order,
                    "order_rejected",
                    f"order:{order.pk}:rejected",
                    f"Order rejected: {side} {instrument.symbol}",
                    f"{ref} was rejected by the matcher: {why}. Its funds are "
                    "released.",
                    url,
                )
            )
        if order.stop_triggered and order.stop_price_ticks is not None:
            stop = ticks_to_price(instrument, order.stop_price_ticks)
            drafts.append(
                _order_draft(
                    order,
                    "stop_triggered",
                    f"order:{order.pk}:stop",
                    f"Stop triggered: {side} {instrument.symbol}",
                    f"{ref} reached its stop price {stop} "
                    f"{instrument.quote.code} and entered the book.",
                    url,
                )
            )
    if partial:
        window = timedelta(seconds=settings.NOTIFICATIONS_PARTIAL_FILL_COALESCE_SECONDS)
        recent = set(
            Notification.objects.filter(
                subject__in=[f"order:{order.pk}" for order in partial],
                event_type=PARTIAL,
                created_at__gt=timezone.now() - window,
            ).values_list("subject", flat=True)
        )
        for order in partial:
            if f"order:{order.pk}" in recent:
                continue
            side = order.get_side_display().lower()
            drafts.append(
                _order_draft(
                    order,
                    PARTIAL,
                    f"order:{order.pk}:partial:{order.filled_lots}",
                    f"Order partially filled: {side} {instrument.symbol}",
                    f"Your {side} order #{order.pk} on {instrument.symbol} is "
                    f"partially filled: {_order_line(order)} so far.",
                    url,
                )
            )
    notify(drafts=drafts)


def price_alert_notify(event: PriceAlertTriggered) -> None:
    notify(
        drafts=[
            Draft(
                user_id=event.user_id,
                event_type="price_alert",
                key=f"price_alert:{event.alert_id}:{event.trade_id}",
                subject=f"price_alert:{event.alert_id}",
                title=f"{event.symbol} is {event.condition} {event.threshold}",
                body=(
                    f"{event.symbol} traded at {event.last_price}, "
                    f"{event.condition} your alert at {event.threshold}."
                    + ("" if event.repeating else " The alert is now off.")
                ),
                url=reverse("marketdata:trade", args=[event.symbol]),
                data={"symbol": event.symbol, "last_price": event.last_price},
            )
        ]
    )


# --- Money --------------------------------------------------------------------------


def deposit_notify(event: DepositCredited) -> None:
    amount = _amount(event.asset, event.amount)
    notify(
        drafts=[
            Draft(
                user_id=event.user_id,
                event_type="deposit_credited",
                key=f"deposit:{event.deposit_id}:credited",
                title=f"Deposit credited: {amount}",
                body=f"Your deposit of {amount} is credited to your wallet.",
                url=reverse("wallet:home"),
                data={"asset": event.asset, "amount": amount},
            )
        ]
    )


_WITHDRAWAL_TEXT = {
    "approved": ("approved", "is approved and will be sent shortly."),
    "rejected": ("rejected", "was rejected; the funds are back in your wallet."),
    "sent": ("sent", "is sent to the payout rail."),
    "completed": ("completed", "is completed."),
    "failed": ("failed", "failed; the funds are back in your wallet."),
}


def withdrawal_notify(event: WithdrawalDecided) -> None:
    word, sentence = _WITHDRAWAL_TEXT[event.status]
    amount = _amount(event.asset, event.amount)
    body = f"Your withdrawal of {amount} {sentence}"
    if event.reason and event.status in ("rejected", "failed"):
        body += f"\nReason: {event.reason}"
    notify(
        drafts=[
            Draft(
                user_id=event.user_id,
                event_type=f"withdrawal_{event.status}",
                key=f"withdrawal:{event.withdrawal_id}:{event.status}",
                title=f"Withdrawal {word}: {amount}",
                body=body,
                url=reverse("wallet:home"),
                data={"asset": event.asset, "amount": amount, "status": event.status},
            )
        ]
    )


def adjustment_notify(event: AdjustmentDecided) -> None:
    if event.status != Adjustment.Status.APPROVED:
        return  # a refused request never touched the balance
    kind = "credit" if event.amount > 0 else "debit"
    amount = _amount(event.asset, abs(event.amount))
    notify(
        drafts=[
            Draft(
                user_id=event.user_id,
                event_type="adjustment_posted",
                key=f"adjustment:{event.adjustment_id}",
                title=f"Balance adjustment: {kind} of {amount}",
                body=(
                    f"Our operators posted a {kind} of {amount} to your wallet.\n"
                    f"Reason: {event.reason}"
                ),
                url=reverse("wallet:statement"),
                data={"asset": event.asset, "amount": amount, "kind": kind},
            )
        ]
    )


def transfer_notify(event: TransferReceived) -> None:
    amount = _amount(event.asset, event.amount)
    note = f"\nNote: {event.note}" if event.note else ""
    notify(
        drafts=[
            Draft(
                user_id=event.user_id,
                event_type="transfer_received",
                key=f"transfer:{event.transfer_id}",
                title=f"You received {amount}",
                body=f"{event.sender_email} sent you {amount}.{note}",
                url=reverse("wallet:home"),
                data={"asset": event.asset, "amount": amount},
            )
        ]
    )


def balance_low_notify(event: BalanceBelowMinimum) -> None:
    available = _amount(event.asset, event.available)
    minimum = _amount(event.asset, event.minimum)
    notify(
        drafts=[
            Draft(
                user_id=event.user_id,
                event_type="balance_low",
                key=f"balance_low:{uuid.uuid4().hex}",
                subject=f"balance:{event.asset}",
                title=f"{event.asset} balance below your minimum",
                body=(
                    f"Your available {event.asset} balance is {available}, below "
                    f"the minimum of {minimum} you set."
                ),
                url=reverse("wallet:home"),
                data={"asset": event.asset, "available": available},
            )
        ]
    )


# --- Account and security -----------------------------------------------------------


def kyc_decision_notify(event: KycDecided) -> None:
    """An onboarding decision, in the words of kyc/emails.py (a re-check's
    outcome is told by its owner, the second-factor reset)."""
    if event.purpose != CasePurpose.ONBOARDING:
        return
    case = KycCase.objects.select_related("profile__user").get(pk=event.case_id)
    subject, body = decision_email_text(case)
    notify(
        drafts=[
            Draft(
                user_id=event.user_id,
                event_type="kyc_decided",
                key=f"kyc:{event.case_id}:{event.status}",
                title=subject,
                body=body,
                url=reverse("kyc:page"),
                data={"status": event.status},
            )
        ]
    )


_SECURITY_TEXT = {
    "new_device_sign_in": "Your account was signed in to from a new device.",
    "password_changed": "Your password was changed.",
    "email_changed": "The email address of your account was changed.",
    "second_factor_added": "A second factor was added to your account.",
    "second_factor_removed": "A second factor was removed from your account.",
    "backup_codes_regenerated": "Your backup codes were generated again.",
    "phone_changed": "The phone number of your account was changed.",
    "api_key_changed": "An API key of your account was created or changed.",
    "staff_action": "Our staff acted on your account.",
}


def security_notify(event: SecurityNotice) -> None:
    """A security notice: in-app, email and SMS (when the phone is verified),
    whatever the preferences; an email change tells the old address too."""
    detail = dict(event.detail)
    lines = [_SECURITY_TEXT[event.kind]]
    labels = {"old_email": "Previous address", "new_email": "New address"}
    for name, value in event.detail:
        lines.append(
            f"{labels.get(name, name.replace('_', ' ').capitalize())}: {value}"
        )
    if event.ip_address:
        lines.append(f"IP address: {event.ip_address}")
    if event.user_agent:
        lines.append(f"Browser: {event.user_agent[:200]}")
    lines += [
        "",
        "If this was not you, change your password and contact support at once.",
    ]
    old_email = detail.get("old_email", "") if event.kind == "email_changed" else ""
    notify(
        drafts=[
            Draft(
                user_id=event.user_id,
                event_type=event.kind,
                key=f"security:{event.kind}:{uuid.uuid4().hex}",
                title=_SECURITY_TEXT[event.kind].rstrip("."),
                body="\n".join(lines),
                url=reverse("accounts:security"),
                data=detail,
                also_email=(old_email,) if old_email else (),
            )
        ]
    )
