"""Faults on PostgreSQL: a worker killed mid-transaction, no worker at all, lost
broker messages, a corrupt book, a halted instrument.

Commands live in the database before any broker hears of them, so each fault may
delay a command but never lose or double it; the ledger verifies after each.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connections

from accounts.models import AuditCode, AuditEvent
from accounts.testing import api_client_for
from trading.models import Instrument, Order, OrderCommand, Trade
from trading.services import instrument_set_status, matching, order_place
from trading.state import matcher_state
from trading.tasks import sweep
from trading.tests.conftest import BTC, USD
from trading.tests.helpers import (
    assert_ledger_ok,
    balances,
    book_state,
    lost_messages,
    match,
)
from trading.tests.test_concurrency import queue_crossing_orders, replay

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NO_WORKER = "trading.tasks.match_instrument.delay"  # patched: messages are dropped


def _stalled_worker(instrument_id: int, ready) -> None:
    """Runs the matching job and stops inside its transaction, after every write,
    holding the instrument lock, until it is killed."""
    connections.close_all()
    matcher_state.reset()

    def stall(instrument):
        ready.set()
        time.sleep(60)

    matcher_state.fault_hook = stall
    try:
        matching.matching_run(instrument_id=instrument_id)
    finally:
        os._exit(1)


def _fresh_worker(instrument_id: int, results) -> None:
    """A restarted worker: empty cache, so it must rebuild the book from rows."""
    try:
        connections.close_all()
        matcher_state.reset()
        rebuilds = []
        real_rebuild = matching.book_rebuild

        def counting_rebuild(instrument):
            rebuilds.append(instrument.book_version)
            return real_rebuild(instrument)

        mock.patch.object(matching, "book_rebuild", counting_rebuild).start()
        mock.patch(NO_WORKER).start()
        result = matching.matching_run(instrument_id=instrument_id)
        version, book = matcher_state.books[instrument_id]
        results.put((result.processed, rebuilds, version, book.snapshot()))
    except BaseException as exc:
        results.put(repr(exc))
    finally:
        connections.close_all()
        os._exit(0)


def test_a_worker_killed_mid_transaction_loses_and_doubles_nothing(
    btc_usd, make_trader
):
    users = [
        make_trader(f"k{i}@example.com", usd=1_000_000 * USD, btc=100 * BTC)
        for i in range(3)
    ]
    # A book to rebuild from: the first orders are matched in this process, whose
    # cache then holds the book at that version.
    queue_crossing_orders(btc_usd, users, 20)
    match(btc_usd)
    btc_usd.refresh_from_db()
    version_before = btc_usd.book_version
    assert matcher_state.books[btc_usd.pk][0] == version_before
    trades_before = Trade.objects.count()
    # More orders wait; a worker takes them and dies before committing.
    queue_crossing_orders(btc_usd, users, 30)
    pending = OrderCommand.objects.filter(processed_at__isnull=True).count()
    assert pending == 30

    connections.close_all()
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    victim = context.Process(target=_stalled_worker, args=(btc_usd.pk, ready))
    victim.start()
    assert ready.wait(timeout=60), "the worker never reached its commit"
    # It holds the instrument lock with the whole batch written, uncommitted.
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(timeout=10)
    assert victim.exitcode == -signal.SIGKILL

    # Nothing of the killed batch is visible.
    assert OrderCommand.objects.filter(processed_at__isnull=True).count() == pending
    assert Trade.objects.count() == trades_before
    assert Instrument.objects.get().book_version == version_before
    assert_ledger_ok()

    # A restarted worker (new process, empty cache) redoes the batch.
    connections.close_all()
    results = context.SimpleQueue()
    restarted = context.Process(target=_fresh_worker, args=(btc_usd.pk, results))
    restarted.start()
    restarted.join(timeout=60)
    assert restarted.exitcode == 0
    outcome = results.get()
    assert not isinstance(outcome, str), outcome
    processed, rebuilds, cached_version, snapshot = outcome
    assert processed == pending
    assert rebuilds == [version_before]  # rebuilt from rows at that version
    btc_usd.refresh_from_db()
    assert cached_version == btc_usd.book_version == version_before + 1

    # Every command applied once, and the books equal an uninterrupted run.
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    reference = replay(btc_usd)
    assert list(
        Trade.objects.order_by("seq").values_list(
            "seq", "price_ticks", "quantity_lots", "maker_order_id", "taker_order_id"
        )
    ) == [
        (t.seq, t.price, t.quantity, t.maker_order_id, t.taker_order_id)
        for t in reference.trades
    ]
    assert book_state(snapshot) == book_state(reference.snapshot())
    assert matching.book_rebuild(btc_usd).snapshot() == reference.snapshot()
    assert_ledger_ok()

    # This process's cache is a version behind: it must not be trusted.
    assert matcher_state.books[btc_usd.pk][0] == version_before
    queue_crossing_orders(btc_usd, users, 6)
    match(btc_usd)
    btc_usd.refresh_from_db()
    reference = replay(btc_usd)
    assert book_state(matcher_state.books[btc_usd.pk][1].snapshot()) == book_state(
        reference.snapshot()
    )
    assert Trade.objects.count() == len(reference.trades)
    assert_ledger_ok()


def test_a_cancel_with_no_worker_running_is_applied_when_one_starts(
    btc_usd, make_trader
):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    client = api_client_for(buyer)
    response = client.post(
        "/api/v1/orders",
        {"symbol": "BTC-USD", "side": "buy", "price": "1000", "quantity": "1"},
        format="json",
    )
    order_id = response.json()["id"]
    assert Order.objects.get(pk=order_id).status == "open"  # eager worker ran

    with lost_messages() as delay:
        response = client.delete(f"/api/v1/orders/{order_id}")
        assert delay.called  # the message was sent, and went nowhere
    assert response.status_code == 202
    assert response.json()["status"] == "open"
    assert balances(buyer) == {"USD": (9_000 * USD, 1_000 * USD)}
    assert OrderCommand.objects.filter(processed_at__isnull=True).count() == 1
    assert_ledger_ok()

    assert matching.matching_run(instrument_id=btc_usd.pk).processed == 1
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.reason, order.open_lots) == ("cancelled", "user", 0)
    assert balances(buyer) == {"USD": (10_000 * USD, 0)}
    assert_ledger_ok()


def test_lost_broker_messages_are_redriven_by_the_sweeper(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    with lost_messages():
        ask, _ = order_place(
            user=seller, symbol="BTC-USD", side="sell", price="1000", quantity="0.5"
        )
        bid, _ = order_place(
            user=buyer, symbol="BTC-USD", side="buy", price="1000", quantity="0.2"
        )
        # Not old enough yet for the default sweep: nothing re-driven.
        assert sweep.delay().result == []
    assert OrderCommand.objects.filter(processed_at__isnull=True).count() == 2
    assert not Trade.objects.exists()

    assert matching.matching_sweep(older_than=timedelta(0)) == [btc_usd.pk]
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    trade = Trade.objects.get()
    assert (trade.price_ticks, trade.quantity_lots, trade.maker_order_id) == (
        1000,
        20,
        ask.pk,
    )
    bid.refresh_from_db()
    assert bid.status == "filled"
    assert balances(buyer) == {
        "USD": (10_000 * USD - 200_00, 0),
        "BTC": (19_960_000, 0),
    }
    assert balances(seller) == {
        "BTC": (50_000_000, 30_000_000),
        "USD": (200_00 - 20, 0),
    }
    assert matching.matching_sweep(older_than=timedelta(0)) == []
    assert_ledger_ok()


def test_a_crossed_rebuild_halts_the_instrument_and_trades_nothing(
    btc_usd, make_trader
):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    bid, _ = order_place(
        user=buyer, symbol="BTC-USD", side="buy", price="990", quantity="0.1"
    )
    ask, _ = order_place(
        user=seller, symbol="BTC-USD", side="sell", price="1010", quantity="0.1"
    )
    assert Order.objects.filter(status="open").count() == 2
    # Corrupt the rows behind the matcher's back (a sell's hold is its quantity,
    # so the holds stay right), and forget the cached book as a restart would.
    Order.objects.filter(pk=ask.pk).update(price_ticks=980)
    matcher_state.reset()
    with lost_messages():
        waiting, _ = order_place(
            user=buyer, symbol="BTC-USD", side="buy", price="1000", quantity="0.1"
        )
    result = matching.matching_run(instrument_id=btc_usd.pk)
    assert result.halted and result.processed == 0

    instrument = Instrument.objects.get()
    assert instrument.status == "halted"
    assert "crossed" in instrument.status_reason
    event = AuditEvent.objects.get(code=AuditCode.BOOK_CROSSED_ON_REBUILD)
    assert event.extra == {"best_bid": 990, "best_ask": 980}
    assert not Trade.objects.exists()
    assert Order.objects.get(pk=waiting.pk).status == "pending"

    # Cancels still work on the halted instrument and release the holds.
    client = api_client_for(buyer)
    assert client.delete(f"/api/v1/orders/{bid.pk}").status_code in (200, 202)
    assert client.delete(f"/api/v1/orders/{waiting.pk}").status_code in (200, 202)
    assert Order.objects.get(pk=bid.pk).status == "cancelled"
    assert Order.objects.get(pk=waiting.pk).status == "cancelled"
    assert Order.objects.get(pk=ask.pk).status == "open"
    assert balances(buyer) == {"USD": (10_000 * USD, 0)}
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    assert not Trade.objects.exists()
    assert Instrument.objects.get().status == "halted"
    assert_ledger_ok()


def test_halted_instrument_keeps_its_book_refuses_orders_and_resumes(
    btc_usd, make_trader
):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    buyer_api, seller_api = api_client_for(buyer), api_client_for(seller)

    def post(client, **body):
        return client.post(
            "/api/v1/orders", {"symbol": "BTC-USD", **body}, format="json"
        )

    bid = post(buyer_api, side="buy", price="1000", quantity="0.3").json()["id"]
    other = post(buyer_api, side="buy", price="990", quantity="0.1").json()["id"]
    with lost_messages():  # queued just before the halt
        late = post(seller_api, side="sell", price="1000", quantity="0.1").json()["id"]
    instrument_set_status(instrument=btc_usd, status="halted", reason="maintenance")

    refused = post(buyer_api, side="buy", price="1000", quantity="0.1")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "instrument_not_trading"
    amend = buyer_api.patch(f"/api/v1/orders/{bid}", {"price": "999"}, format="json")
    assert amend.status_code == 409
    assert buyer_api.delete(f"/api/v1/orders/{other}").status_code in (200, 202)
    assert Order.objects.get(pk=other).status == "cancelled"
    assert Order.objects.get(pk=late).status == "pending"  # waits for the resume
    book = matcher_state.books[btc_usd.pk][1]
    assert book.depth() == ([(1000, 30)], [])  # kept
    assert balances(buyer) == {"USD": (10_000 * USD - 30_000, 30_000)}
    assert_ledger_ok()

    instrument_set_status(instrument=btc_usd, status="trading")  # re-drives
    assert Order.objects.get(pk=late).status == "filled"
    assert Order.objects.get(pk=bid).filled_lots == 10
    assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
    assert_ledger_ok()
