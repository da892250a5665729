"""The pipeline end to end: events become in-app items and deliveries in the
cause's transaction; the delivery task sends them after commit, retries,
gives up, and never sends twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from config.events import record
from marketdata.models import UserEvent
from notifications import tasks
from notifications.models import Delivery, Notification
from trading.models import Order, Trade
from trading.services import order_cancel, order_place
from trading.tests.helpers import balances, match
from wallet.events import DepositCredited

pytestmark = pytest.mark.django_db


def _cross(buyer, seller, instrument, *, sell="0.3", buy="0.3"):
    order_place(
        user=seller, symbol="BTC-USD", side="sell", price="95000", quantity=sell
    )
    match(instrument)
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="96000", quantity=buy)
    match(instrument)


def test_a_fill_reaches_both_sides_in_app_and_by_email(
    market, smtp_server, django_capture_on_commit_callbacks
):
    instrument, buyer, seller = market
    with django_capture_on_commit_callbacks(execute=True):
        _cross(buyer, seller, instrument)

    for user, side in ((buyer, "buy"), (seller, "sell")):
        item = Notification.objects.get(user=user, event_type="order_filled")
        assert item.title == f"Order filled: {side} BTC-USD"
        assert "0.30000000 BTC for 28500.00 USD" in item.body
        assert item.in_app and item.read_at is None
        delivery = Delivery.objects.get(notification=item, channel="email")
        assert delivery.status == Delivery.Status.SENT
        assert delivery.attempts == 1
        assert delivery.provider_reference.startswith("<notification-delivery-")
        [message] = [m for m in smtp_server.to(user.email) if "filled" in m["Subject"]]
        assert message["Subject"] == f"Order filled: {side} BTC-USD"
        text = smtp_server.body(message)
        assert "0.30000000 BTC for 28500.00 USD" in text
        assert "(UTC)" in text  # no zone chosen: UTC, labelled
        assert message.get_body(preferencelist=("html",)) is not None
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # the bell: the item and the unread count on the user's stream
        [event] = UserEvent.objects.filter(
            user=user, type=UserEvent.Type.NOTIFICATION
        ).order_by("-id")[:1]
        assert event.data["notification"]["id"] == item.pk
        assert (
            event.data["unread"]
            == Notification.objects.filter(user=user, read_at__isnull=True).count()
        )


def test_times_are_in_the_users_zone(
    market, smtp_server, django_capture_on_commit_callbacks
):
    instrument, buyer, seller = market
    buyer.time_zone = "Asia/Kolkata"
    buyer.save(update_fields=["time_zone"])
    with django_capture_on_commit_callbacks(execute=True):
        _cross(buyer, seller, instrument)
    item = Notification.objects.get(user=buyer, event_type="order_filled")
    local = item.created_at + timedelta(hours=5, minutes=30)
    [message] = smtp_server.to(buyer.email)[-1:]
    assert f"{local:%H:%M} (Asia/Kolkata)" in smtp_server.body(message)


def test_the_money_moves_while_the_mail_provider_is_down(
    market, settings, django_capture_on_commit_callbacks
):
    """The trade and its settlement commit; the emails wait as pending
    deliveries with the provider's answer, and go out once it is back."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens
    settings.EMAIL_TIMEOUT = 2
    instrument, buyer, seller = market
    with django_capture_on_commit_callbacks(execute=True):
        _cross(buyer, seller, instrument)

    assert Trade.objects.count() == 1
    assert balances(buyer)["BTC"] == (30_000_000 - 60_000, 0)
    emails = Delivery.objects.filter(
        channel="email", notification__event_type="order_filled"
    )
    assert emails.count() == 2
    for delivery in emails:
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.attempts == 1
        assert "ConnectionRefusedError" in delivery.provider_answer
        assert delivery.next_attempt_at > timezone.now()


def _deliveries_counted(channel: str, outcome: str | None = None):
    from prometheus_client import REGISTRY

    def value(name: str) -> float:
        labels = {"channel": channel, "outcome": name}
        return (
            REGISTRY.get_sample_value("exchange_notification_deliveries_total", labels)
            or 0.0
        )

    if outcome is not None:
        return value(outcome)
    return {name: value(name) for name in ("retry", "failed", "sent")}


def test_a_failing_provider_is_retried_then_failed_with_nothing_lost(
    market, webpush, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    settings.NOTIFICATIONS_SWEEP_AFTER_SECONDS = 5
    webpush.fail = "503 push service unavailable"
    counted = _deliveries_counted("webpush")
    _, buyer, _ = market
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            record(
                DepositCredited(
                    deposit_id=7, user_id=buyer.pk, asset="USD", amount=12_345
                )
            )

    item = Notification.objects.get(user=buyer, event_type="deposit_credited")
    assert item.title == "Deposit credited: 123.45 USD"
    push = Delivery.objects.get(notification=item, channel="webpush")
    assert (push.status, push.attempts) == (Delivery.Status.PENDING, 1)
    assert push.next_attempt_at - push.created_at >= timedelta(seconds=30)
    assert Delivery.objects.get(notification=item, channel="email").status == "sent"

    # not due yet: the sweeper leaves it
    assert tasks.sweep() == 0
    # 30 s back-off (+ the sweeper's grace): attempt 2, then 60 s: attempt 3
    with time_machine.travel(timezone.now() + timedelta(seconds=40), tick=False):
        assert tasks.sweep() == 1
    push.refresh_from_db()
    assert (push.status, push.attempts) == (Delivery.Status.PENDING, 2)
    with time_machine.travel(timezone.now() + timedelta(seconds=200), tick=False):
        assert tasks.sweep() == 1
    push.refresh_from_db()
    assert push.status == Delivery.Status.FAILED
    assert push.attempts == 3
    assert push.provider_answer == "503 push service unavailable"
    assert webpush.calls == 3
    # the metric the NotificationFailures alert reads (config/metrics.py)
    assert _deliveries_counted("webpush", "retry") - counted["retry"] == 2
    assert _deliveries_counted("webpush", "failed") - counted["failed"] == 1
    # nothing lost: the item is still there, and so is the email's success
    assert Notification.objects.filter(pk=item.pk, in_app=True).exists()
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        assert tasks.sweep() == 0  # a failed delivery is not retried by itself


def test_a_permanent_refusal_fails_at_once(
    market, webpush, django_capture_on_commit_callbacks
):
    webpush.fail, webpush.permanent = "410 subscription gone", True
    _, buyer, _ = market
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            record(
                DepositCredited(deposit_id=8, user_id=buyer.pk, asset="USD", amount=100)
            )
    push = Delivery.objects.get(channel="webpush")
    assert (push.status, push.attempts) == (Delivery.Status.FAILED, 1)
    assert push.provider_answer == "410 subscription gone"


def test_running_the_task_twice_sends_once(
    market, webpush, django_capture_on_commit_callbacks
):
    _, buyer, _ = market
    with django_capture_on_commit_callbacks(execute=False):
        with transaction.atomic():
            record(
                DepositCredited(deposit_id=9, user_id=buyer.pk, asset="USD", amount=100)
            )
    push = Delivery.objects.get(channel="webpush")
    tasks.deliver(push.pk)
    tasks.deliver(push.pk)
    tasks.deliver_many([push.pk, push.pk])
    assert webpush.calls == 1
    [message] = webpush.sent
    assert message.delivery_id == push.pk  # the provider's idempotency key
    assert message.url == "http://localhost:8000/wallet/"
    assert message.security is False
    push.refresh_from_db()
    assert (push.status, push.provider_reference) == ("sent", f"ref-{push.pk}")


def test_the_sweeper_sends_a_delivery_whose_task_was_lost(market, webpush, settings):
    settings.NOTIFICATIONS_SWEEP_AFTER_SECONDS = 60
    _, buyer, _ = market
    # no on-commit callbacks run: the task message is "lost"
    with transaction.atomic():
        record(
            DepositCredited(deposit_id=10, user_id=buyer.pk, asset="USD", amount=100)
        )
    push = Delivery.objects.get(channel="webpush")
    assert tasks.sweep() == 0  # still within its grace
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=False):
        # every delivery of the deposit: the email and the browser push (no
        # mobile push row: the buyer has no device)
        assert tasks.sweep() == 2
    push.refresh_from_db()
    assert push.status == Delivery.Status.SENT
    assert webpush.calls == 1


def test_a_rolled_back_cause_leaves_nothing(market, webpush):
    _, buyer, _ = market
    with pytest.raises(RuntimeError), transaction.atomic():
        record(
            DepositCredited(deposit_id=11, user_id=buyer.pk, asset="USD", amount=100)
        )
        raise RuntimeError("the deposit failed")
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()
    assert webpush.calls == 0


def test_partial_fills_coalesce_and_the_final_fill_always_notifies(
    market, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_PARTIAL_FILL_COALESCE_SECONDS = 10
    instrument, buyer, seller = market
    sell, _ = order_place(
        user=seller, symbol="BTC-USD", side="sell", price="95000", quantity="1"
    )
    match(instrument)
    for _ in range(3):  # three partial fills in one window: one message
        order_place(
            user=buyer, symbol="BTC-USD", side="buy", price="95000", quantity="0.2"
        )
        match(instrument)
    partial = Notification.objects.filter(
        user=seller, event_type="order_partially_filled"
    )
    assert partial.count() == 1
    assert "0.20000000 BTC for 19000.00 USD so far" in partial.get().body
    with time_machine.travel(timezone.now() + timedelta(seconds=11), tick=False):
        order_place(
            user=buyer, symbol="BTC-USD", side="buy", price="95000", quantity="0.2"
        )
        match(instrument)
    assert partial.count() == 2
    assert "0.80000000 BTC" in partial.order_by("-id").first().body
    # the final fill, right after: not coalesced
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="95000", quantity="0.2")
    match(instrument)
    sell.refresh_from_db()
    assert sell.status == Order.Status.FILLED
    filled = Notification.objects.get(user=seller, event_type="order_filled")
    assert "1.00000000 BTC for 95000.00 USD" in filled.body
    assert partial.count() == 2


def test_only_system_cancels_notify(market):
    instrument, buyer, seller = market
    mine, _ = order_place(
        user=buyer, symbol="BTC-USD", side="buy", price="90000", quantity="0.1"
    )
    match(instrument)
    order_cancel(user=buyer, order_id=mine.pk)
    match(instrument)
    mine.refresh_from_db()
    assert mine.status == Order.Status.CANCELLED
    assert not Notification.objects.filter(event_type="order_cancelled").exists()
    # an IOC remainder the book cannot fill expires: the system did it
    order_place(
        user=seller,
        symbol="BTC-USD",
        side="sell",
        price="95000",
        quantity="0.5",
        time_in_force="ioc",
    )
    match(instrument)
    item = Notification.objects.get(user=seller, event_type="order_cancelled")
    assert item.title == "Order expired: sell BTC-USD"
    assert "expired by the system (ioc)" in item.body


def test_a_matching_run_writes_in_a_few_statements(
    market, make_traders, django_assert_max_num_queries
):
    """Notifications of a run with many fills cost a fixed number of
    statements, not one per fill."""
    instrument, buyer, seller = market
    sellers = make_traders(10)
    for user in sellers:
        order_place(
            user=user, symbol="BTC-USD", side="sell", price="95000", quantity="0.1"
        )
    match(instrument)
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="95000", quantity="1")
    from notifications.handlers import matching_run_notify

    calls: list[int] = []
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    original = matching_run_notify

    def counted(event):
        with CaptureQueriesContext(connection) as queries:
            original(event)
        calls.append(len(queries))

    from config import events
    from trading.events import MatchingRunApplied

    events.unsubscribe(MatchingRunApplied, original, moment=events.IN_TRANSACTION)
    events.subscribe(MatchingRunApplied, counted, moment=events.IN_TRANSACTION)
    try:
        match(instrument)
    finally:
        events.unsubscribe(MatchingRunApplied, counted, moment=events.IN_TRANSACTION)
        events.subscribe(MatchingRunApplied, original, moment=events.IN_TRANSACTION)
    assert Notification.objects.filter(event_type="order_filled").count() == 11
    # preferences, who has a browser or a device (fills go by push too: one
    # statement each), insert items, insert deliveries, unread counts, stream
    # events (+ the savepoint's two statements)
    assert calls == [9]
