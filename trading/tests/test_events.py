"""A matching run records one `MatchingRunApplied` in its transaction: what it
did to the orders, the trades and fills it wrote, the book's changes. Trading
does not know who listens (config/tests/test_app_dependencies.py proves it
imports no marketdata)."""

import pytest

from config import events
from trading.engine import LevelChanged
from trading.engine import Trade as TradeEvent
from trading.events import MatchingRunApplied
from trading.models import Order
from trading.services import order_cancel, order_place
from trading.tests.helpers import match

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs():
    seen: list[tuple[MatchingRunApplied, bool]] = []

    def probe(event: MatchingRunApplied) -> None:
        # in the transaction: the run's trades are written, with their ids
        seen.append((event, all(trade.pk for trade in event.trades)))

    events.subscribe(MatchingRunApplied, probe, moment=events.IN_TRANSACTION)
    yield seen
    events.unsubscribe(MatchingRunApplied, probe, moment=events.IN_TRANSACTION)


def test_a_run_records_its_orders_trades_fills_and_book_changes(market, runs):
    instrument, buyer, seller = market
    sell, _ = order_place(
        user=seller, symbol="BTC-USD", side="sell", price="100", quantity="0.5"
    )
    buy, _ = order_place(
        user=buyer, symbol="BTC-USD", side="buy", price="100", quantity="0.2"
    )
    match(instrument)
    ((event, written),) = runs
    assert written
    assert event.instrument.pk == instrument.pk and event.book.sequence == 3
    assert {(o.pk, o.status, o.filled_lots) for o in event.orders} == {
        (sell.pk, Order.Status.PARTIALLY_FILLED, 20),
        (buy.pk, Order.Status.FILLED, 20),
    }
    (trade,) = event.trades
    assert (trade.price_ticks, trade.quantity_lots, trade.taker_order_id) == (
        100,
        20,
        buy.pk,
    )
    assert sorted(fill.order_id for fill in event.fills) == sorted([sell.pk, buy.pk])
    assert all(fill.trade is trade for fill in event.fills)
    assert [type(change) for change in event.book_changes] == [
        LevelChanged,  # the sell rests
        TradeEvent,
        LevelChanged,  # and is partly taken
    ]


def test_a_cancel_is_recorded_with_the_order_it_closed(market, runs):
    instrument, _, seller = market
    sell, _ = order_place(
        user=seller, symbol="BTC-USD", side="sell", price="100", quantity="0.5"
    )
    match(instrument)
    order_cancel(user=seller, order_id=sell.pk)
    match(instrument)
    event = runs[-1][0]
    assert [(o.pk, o.status) for o in event.orders] == [
        (sell.pk, Order.Status.CANCELLED)
    ]
    assert event.trades == [] and event.fills == []
    assert [change.quantity for change in event.book_changes] == [0]
