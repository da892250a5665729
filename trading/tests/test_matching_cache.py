"""The matcher's per-process copy of open orders (`matcher_state.orders`): a maker
known from an earlier run costs no read, and an order whose hold an amend request
grew is read again, so the copy never settles with a stale hold."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trading.models import Order, OrderCommand
from trading.services import matching_run, order_amend, order_place
from trading.state import matcher_state
from trading.tests.helpers import assert_ledger_ok, balances, match

pytestmark = pytest.mark.django_db


def _sell(seller, quantity="0.10", price="1000"):
    return order_place(
        user=seller, symbol="BTC-USD", side="sell", price=price, quantity=quantity
    )[0]


def _buy(buyer, quantity="0.05", price="1000"):
    return order_place(
        user=buyer, symbol="BTC-USD", side="buy", price=price, quantity=quantity
    )[0]


def _order_reads(queries) -> int:
    """Reads of orders by id with their holds (`_orders_with_holds`)."""
    return sum(
        'FROM "trading_order" o LEFT JOIN' in query["sql"]
        and "o.id = ANY" in query["sql"]
        for query in queries
    )


def test_a_maker_from_an_earlier_run_is_not_read_again(market):
    instrument, buyer, seller = market
    resting = _sell(seller)
    match(instrument)
    assert resting.pk in matcher_state.orders[instrument.pk]
    _buy(buyer)
    with CaptureQueriesContext(connection) as queries:
        match(instrument)
    assert _order_reads(queries.captured_queries) == 0
    resting.refresh_from_db()
    assert (resting.status, resting.filled_lots, resting.open_lots) == (
        Order.Status.PARTIALLY_FILLED,
        5,
        5,
    )
    # what the copy holds is what the database holds
    cached = matcher_state.orders[instrument.pk][resting.pk]
    assert (cached.filled_lots, cached.open_lots, cached.hold.remaining_amount) == (
        5,
        5,
        5_000_000,
    )
    assert_ledger_ok()


def test_a_filled_order_leaves_the_copy(market):
    instrument, buyer, seller = market
    resting = _sell(seller, quantity="0.05")
    match(instrument)
    _buy(buyer, quantity="0.05")
    match(instrument)
    assert resting.pk not in matcher_state.orders[instrument.pk]


def test_a_maker_whose_amend_waits_behind_it_in_the_batch_is_read_fresh(market):
    instrument, buyer, seller = market
    resting = _sell(seller)  # 0.10 BTC held
    match(instrument)
    _buy(buyer)  # trades with it first ...
    order_amend(user=seller, order_id=resting.pk, quantity="0.20")  # ... then grows
    assert balances(seller)["BTC"] == (180_000_000, 20_000_000)
    match(instrument)
    resting.refresh_from_db()
    amend = OrderCommand.objects.get(order=resting, kind=OrderCommand.Kind.AMEND)
    # With the copy's hold (0.10 BTC, 0.05 after the fill) the amend to 0.15 BTC
    # open would have been refused as not covered.
    assert amend.result == "applied"
    assert (resting.quantity_lots, resting.filled_lots, resting.open_lots) == (
        20,
        5,
        15,
    )
    assert resting.hold.remaining_amount == 15_000_000
    assert_ledger_ok()


def test_a_maker_whose_amend_waits_beyond_the_batch_is_read_fresh(market):
    instrument, buyer, seller = market
    resting = _sell(seller)
    match(instrument)
    _buy(buyer, quantity="0.10")  # fills it whole ...
    order_amend(user=seller, order_id=resting.pk, quantity="0.20")  # ... then grows
    assert balances(seller)["BTC"] == (180_000_000, 20_000_000)
    result = matching_run(instrument_id=instrument.pk, batch_size=1)
    assert result.more  # the amend waits for the next run
    resting.refresh_from_db()
    assert resting.status == Order.Status.FILLED
    # The whole grown hold is settled: 0.10 BTC to the buyer, 0.10 back. (The
    # copy knew 0.10 BTC, all of it posted by the fill: nothing to release.)
    assert (resting.hold.remaining_amount, resting.hold.released_amount) == (
        0,
        10_000_000,
    )
    assert balances(seller)["BTC"] == (190_000_000, 0)
    match(instrument)
    amend = OrderCommand.objects.get(order=resting, kind=OrderCommand.Kind.AMEND)
    assert amend.result != "applied"  # the order had ended
    assert balances(seller)["BTC"] == (190_000_000, 0)
    assert_ledger_ok()
