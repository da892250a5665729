"""The matching job end to end at the service level: holds, fills, settlement."""

import pytest

from trading.models import Order, Trade
from trading.services import order_cancel, order_place
from trading.state import matcher_state
from trading.tests.helpers import assert_ledger_ok, balances, match

pytestmark = pytest.mark.django_db


def test_resting_sell_then_crossing_buy_settles_exactly(market):
    instrument, buyer, seller = market
    sell, _ = order_place(
        user=seller, symbol="BTC-USD", side="sell", price="95000", quantity="0.5"
    )
    match(instrument)
    sell.refresh_from_db()
    assert sell.status == Order.Status.OPEN
    assert balances(seller)["BTC"] == (150_000_000, 50_000_000)

    buy, _ = order_place(
        user=buyer, symbol="BTC-USD", side="buy", price="96000", quantity="0.3"
    )
    assert balances(buyer)["USD"] == (200_000_00 - 28_800_00, 28_800_00)
    match(instrument)

    buy.refresh_from_db()
    sell.refresh_from_db()
    assert buy.status == Order.Status.FILLED
    assert sell.status == Order.Status.PARTIALLY_FILLED
    assert (sell.filled_lots, sell.open_lots) == (30, 20)
    trade = Trade.objects.get()
    assert (trade.price_ticks, trade.quantity_lots, trade.seq) == (95000, 30, 2)
    # Buyer pays 0.3 BTC * 95,000 = 28,500.00 USD, gets 0.3 BTC minus the 0.20%
    # taker fee (0.0006 BTC); the 300.00 USD price improvement comes back.
    assert balances(buyer) == {
        "USD": (200_000_00 - 28_500_00, 0),
        "BTC": (30_000_000 - 60_000, 0),
    }
    # Seller (maker, 0.10%) gets 28,500.00 - 28.50 USD; 0.2 BTC stays held.
    assert balances(seller) == {
        "BTC": (150_000_000, 20_000_000),
        "USD": (28_500_00 - 28_50, 0),
    }
    assert (trade.buyer_fee, trade.seller_fee) == (60_000, 28_50)
    assert_ledger_ok()


def test_cancel_releases_the_hold(market):
    instrument, buyer, _ = market
    order, _ = order_place(
        user=buyer, symbol="BTC-USD", side="buy", price="90000", quantity="1"
    )
    match(instrument)
    order_cancel(user=buyer, order_id=order.pk)
    match(instrument)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.reason == "user"
    assert balances(buyer) == {"USD": (200_000_00, 0)}
    assert_ledger_ok()


def test_the_matcher_remembers_only_accounts_that_outlive_its_run(market):
    """Its process-wide account cache takes an account only if the run found it:
    one the run created is gone when the run rolls back."""
    from trading.services import matching
    from wallet.models import Account

    instrument, buyer, seller = market
    key = (buyer.pk, instrument.base_id, Account.Kind.AVAILABLE)

    def crossing_pair():
        order_place(
            user=seller, symbol="BTC-USD", side="sell", price="100", quantity="0.01"
        )
        order_place(
            user=buyer, symbol="BTC-USD", side="buy", price="100", quantity="0.01"
        )

    crossing_pair()  # the buyer holds no BTC yet: the run creates that account

    def fail(instrument):
        raise RuntimeError("crash before commit")

    matcher_state.fault_hook = fail
    try:
        with pytest.raises(RuntimeError):
            matching.matching_run(instrument_id=instrument.pk)
    finally:
        matcher_state.fault_hook = None
    assert not Account.objects.filter(owner=buyer, asset=instrument.base).exists()
    assert key not in matcher_state.accounts

    match(instrument)  # creates it again, and commits
    assert Trade.objects.count() == 1
    assert key not in matcher_state.accounts  # created by that run: not taken
    crossing_pair()
    match(instrument)  # found this time: remembered, and used by the next runs
    assert matcher_state.accounts[key] == Account.objects.get(
        owner=buyer, asset=instrument.base, kind=Account.Kind.AVAILABLE
    )
    crossing_pair()
    match(instrument)
    assert Trade.objects.count() == 3
    assert balances(buyer)["BTC"][0] == 3 * 10**6 - 3 * 2_000  # taker fee 20 bps
    assert_ledger_ok()


def _same_fields(ours, orms) -> None:
    assert type(ours) is type(orms)
    for field in type(orms)._meta.concrete_fields:
        mine, theirs = getattr(ours, field.attname), getattr(orms, field.attname)
        assert (mine, type(mine)) == (theirs, type(theirs)), field.name


def test_a_runs_reads_in_sql_build_what_the_orm_builds(market):
    """The lock, the pending commands (with order and hold) and the orders loaded
    for fills are read in SQL: the instances must equal the ORM's."""
    from trading.models import Instrument, OrderCommand
    from trading.services import instrument_set_status, order_amend
    from trading.services.matching import (
        _instrument_lock,
        _orders_with_holds,
        _pending_commands,
    )

    instrument, buyer, seller = market
    resting = order_place(
        user=seller, symbol="BTC-USD", side="sell", price="100", quantity="0.5"
    )[0]
    match(instrument)
    order_place(user=buyer, symbol="BTC-USD", side="buy", price="99", quantity="0.1")
    order_amend(user=seller, order_id=resting.pk, price="101")
    order_cancel(user=seller, order_id=resting.pk)

    locked = _instrument_lock(instrument.pk)
    _same_fields(locked, Instrument.objects.get(pk=instrument.pk))
    _same_fields(locked.base, instrument.base)
    _same_fields(locked.quote, instrument.quote)
    pending = _pending_commands(instrument.pk, cancels_only=False, limit=10)
    expected = list(
        OrderCommand.objects.filter(instrument=instrument, processed_at__isnull=True)
        .select_related("order__hold")
        .order_by("pk")
    )
    assert [c.kind for c in pending] == ["place", "amend", "cancel"]
    for ours, orms in zip(pending, expected, strict=True):
        _same_fields(ours, orms)
        _same_fields(ours.order, orms.order)
        _same_fields(ours.order.hold, orms.order.hold)
    assert len(_pending_commands(instrument.pk, cancels_only=False, limit=2)) == 2
    only_cancels = _pending_commands(instrument.pk, cancels_only=True, limit=10)
    assert [c.kind for c in only_cancels] == ["cancel"]
    loaded = _orders_with_holds([resting.pk, pending[0].order_id])
    assert sorted(o.pk for o in loaded) == sorted([resting.pk, pending[0].order_id])
    for order in loaded:
        _same_fields(order, Order.objects.get(pk=order.pk))

    instrument_set_status(instrument=instrument, status="halted")
    match(instrument)  # a halted run applies the cancel only
    assert Order.objects.get(pk=resting.pk).status == "cancelled"
    assert [
        c.kind for c in _pending_commands(instrument.pk, cancels_only=False, limit=9)
    ] == [
        "place",
        "amend",
    ]
    with pytest.raises(Instrument.DoesNotExist):
        _instrument_lock(10**9)
    assert_ledger_ok()
