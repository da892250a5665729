"""Concurrency on PostgreSQL: racing placements, racing retries, racing workers.

Threads use their own database connections (closed at thread end); the racing
workers are separate processes (fork after closing the parent's connections), each
with its own in-memory book cache, as real Celery workers would be.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from unittest import mock

import pytest
from django.db import connection, connections

from accounts.testing import api_client_for
from trading.engine import OrderBook
from trading.engine import Trade as TradeEvent
from trading.models import Order, OrderCommand, OrderStatusChange, Trade
from trading.services import matching, order_place
from trading.state import matcher_state
from trading.tests.conftest import BTC, USD
from trading.tests.helpers import assert_ledger_ok, balances, lost_messages

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(count: int, work) -> list:
    """Run work(i) in `count` threads released together; results in order."""
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait(timeout=30)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_orders_reserve_exactly_what_the_balance_allows(
    btc_usd, make_trader
):
    user = make_trader("racer@example.com", usd=24 * 1_000 * USD + 999_99)
    tokens = [api_client_for(user) for _ in range(50)]  # one client per thread

    def place(i):
        response = tokens[i].post(
            "/api/v1/orders",
            {"symbol": "BTC-USD", "side": "buy", "price": "1000", "quantity": "1"},
            format="json",
        )
        return response.status_code, response.json()

    results = race(50, place)
    accepted = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status != 201]
    # Each order holds 1,000.00; 24,999.99 affords exactly 24 of them.
    assert len(accepted) == 24
    assert {status for status, _ in results} == {201, 422}
    assert {body["error"]["code"] for body in refused} == {"insufficient_funds"}
    orders = Order.objects.filter(user=user)
    assert orders.count() == 24
    assert sum(order.hold.remaining_amount for order in orders) == 24 * 1_000 * USD
    assert balances(user) == {"USD": (999_99, 24 * 1_000 * USD)}
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    assert set(orders.values_list("status", flat=True)) == {"open"}
    assert_ledger_ok()


def test_one_client_order_id_sent_twenty_times_at_once_makes_one_order(
    btc_usd, make_trader
):
    user = make_trader("retry@example.com", usd=10_000 * USD)
    clients = [api_client_for(user) for _ in range(20)]
    body = {
        "symbol": "BTC-USD",
        "side": "buy",
        "price": "1000",
        "quantity": "1",
        "client_order_id": "same-1",
    }

    def place(i):
        response = clients[i].post("/api/v1/orders", body, format="json")
        return response.status_code, response.json()["id"]

    results = race(20, place)
    order = Order.objects.get(user=user)
    assert {order_id for _, order_id in results} == {order.pk}
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 19 + [201]
    assert OrderCommand.objects.filter(order=order).count() == 1
    assert balances(user) == {"USD": (9_000 * USD, 1_000 * USD)}
    assert_ledger_ok()


def _worker(instrument_id: int, batch_size: int, results) -> None:
    """A separate worker process: its own connection and book cache."""
    try:
        connections.close_all()
        matcher_state.reset()
        # Follow-up messages (`more`) would run eagerly here; this loop is the
        # worker, so count only what it applies.
        mock.patch("trading.tasks.match_instrument.delay").start()
        processed = 0
        while True:
            result = matching.matching_run(
                instrument_id=instrument_id, batch_size=batch_size
            )
            processed += result.processed
            if not result.processed and not result.more:
                pending = OrderCommand.objects.filter(
                    instrument_id=instrument_id, processed_at__isnull=True
                ).exists()
                if not pending:
                    break
        results.put(processed)
    except BaseException as exc:  # report, never hang the parent
        results.put(repr(exc))
    finally:
        connections.close_all()
        os._exit(0)


def queue_crossing_orders(instrument, users, count: int) -> None:
    """`count` orders alternating buy/sell around one price, queued unmatched."""
    with lost_messages():
        for i in range(count):
            side = "buy" if i % 2 else "sell"
            price = 1000 + (i % 7) - 3
            order_place(
                user=users[i % len(users)],
                symbol=instrument.symbol,
                side=side,
                price=str(price),
                quantity=f"0.{(i % 9) + 1:02d}",
                stp="expire_maker",
            )


@dataclass
class Replay:
    book: OrderBook
    trades: list

    @property
    def sequence(self) -> int:
        return self.book.sequence

    def snapshot(self) -> dict:
        return self.book.snapshot()


def replay(instrument) -> Replay:
    """The bare engine applying the same place commands in arrival order (the
    compiled engine's objects take no extra attributes, hence the wrapper)."""
    book = OrderBook(instrument.symbol)
    events = []
    for command in OrderCommand.objects.filter(instrument=instrument).order_by("pk"):
        events.extend(book.process(matching._place(command.order)))
    return Replay(book, [e for e in events if isinstance(e, TradeEvent)])


def test_two_workers_on_one_instrument_apply_every_command_once(btc_usd, make_trader):
    users = [
        make_trader(f"w{i}@example.com", usd=1_000_000 * USD, btc=100 * BTC)
        for i in range(3)
    ]
    queue_crossing_orders(btc_usd, users, 60)
    commands = OrderCommand.objects.count()

    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()  # put() writes at once: safe before _exit
    workers = [
        context.Process(target=_worker, args=(btc_usd.pk, 7, results)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    processed = [results.get() for _ in workers]
    assert all(isinstance(n, int) for n in processed), processed
    assert sum(processed) == commands  # every command applied exactly once
    assert min(processed) > 0  # both took batches: they really raced

    btc_usd.refresh_from_db()
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    # Each order entered the book once: one pending -> x transition per order.
    firsts = OrderStatusChange.objects.filter(from_status="pending").values("order")
    assert firsts.count() == Order.objects.exclude(status="pending").count()
    reference = replay(btc_usd)
    trades = list(
        Trade.objects.order_by("seq").values_list(
            "seq", "price_ticks", "quantity_lots", "maker_order_id", "taker_order_id"
        )
    )
    assert len(trades) > 12
    assert trades == [
        (t.seq, t.price, t.quantity, t.maker_order_id, t.taker_order_id)
        for t in reference.trades
    ]
    assert btc_usd.engine_seq == reference.sequence
    assert matching.book_rebuild(btc_usd).snapshot() == reference.snapshot()
    assert_ledger_ok()


def test_concurrent_orders_cannot_pass_the_open_order_limit(
    btc_usd, make_trader, settings
):
    settings.TRADING_MAX_OPEN_ORDERS = 3
    user = make_trader("limit@example.com", usd=100_000 * USD)
    clients = [api_client_for(user) for _ in range(12)]

    def place(i):
        response = clients[i].post(
            "/api/v1/orders",
            {"symbol": "BTC-USD", "side": "buy", "price": "100", "quantity": "0.01"},
            format="json",
        )
        return response.status_code, response.json()

    with lost_messages():
        results = race(12, place)
    assert sorted(status for status, _ in results) == [201] * 3 + [422] * 9
    codes = {body["error"]["code"] for status, body in results if status == 422}
    assert codes == {"too_many_open_orders"}
    assert Order.objects.filter(user=user).count() == 3
    assert_ledger_ok()


def test_an_alert_set_while_an_order_starts_is_judged_by_that_order(
    btc_usd, make_trader
):
    """Placement reads whether the user has a balance alert under the user's row
    lock, and setting an alert takes that lock first: an order arriving while
    an alert is being set waits for it, sees it, and its hold disarms it. (Read
    under the accounts' lock alone, the order's snapshot predated the alert.)"""
    from django.db import transaction

    from wallet.models import Asset, BalanceAlert
    from wallet.services import balance_alert_set

    user = make_trader("alerted@example.com", usd=10_000 * USD)
    usd = Asset.objects.get(code="USD")
    client = api_client_for(user)
    alert_written = threading.Event()
    release = threading.Event()

    def set_alert():
        try:
            with transaction.atomic():
                balance_alert_set(user=user, asset=usd, minimum=9_500 * USD)
                alert_written.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def place():
        try:
            alert_written.wait(timeout=30)
            return client.post(
                "/api/v1/orders",
                {"symbol": "BTC-USD", "side": "buy", "price": "1000", "quantity": "1"},
                format="json",
            ).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        setting = pool.submit(set_alert)
        placing = pool.submit(place)
        alert_written.wait(timeout=30)
        threading.Event().wait(0.5)  # the order reaches the user's lock and waits
        assert not placing.done()
        release.set()
        setting.result(timeout=30)
        assert placing.result(timeout=30) == 201
    assert BalanceAlert.objects.get(user=user, asset=usd).armed is False
    assert_ledger_ok()
