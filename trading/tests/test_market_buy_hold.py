"""A market buy by quantity holds a bounded amount (docs/trading.md, "The
market-buy hold"): its quantity at the band's top, or the slippage limit, above
the last trade (a stop's stop price), plus fees; never more than is available,
and the rest of the balance stays available. Every amount exact, the ledger
verified.

BTC-USD (conftest): one tick (1 USD) x one lot (0.01 BTC) is one cent; fees maker
10 / taker 20 bps, paid by the buyer in BTC under `received`, in USD under
`quote`. The slippage limit is 5 % (TRADING_MARKET_BUY_SLIPPAGE_PERCENT).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import override_settings

from config.errors import ApplicationError
from kyc.testing import make_verified_user
from trading.models import Order
from trading.services import order_place
from trading.tests.conftest import BTC, USD
from trading.tests.helpers import (
    assert_ledger_ok,
    balances,
    fund,
    lost_messages,
    make_btc_usd,
    match,
)

COST = 10 * 95_000 + 5 * 96_000  # 0.15 BTC from the asks below, in cents


def place(user, **fields) -> Order:
    order, created = order_place(user=user, symbol="BTC-USD", **fields)
    assert created
    return order


def trader(email: str, *, usd: int = 0, btc: int = 0, instrument=None):
    user = make_verified_user(email=email)
    if usd:
        fund(user, instrument.quote, usd)
    if btc:
        fund(user, instrument.base, btc)
    return user


def traded_book(instrument):
    """Last trade 95,000; asks left: 0.10 @ 95,000 and 0.10 @ 96,000."""
    seller = trader("seller@example.com", btc=BTC, instrument=instrument)
    first = trader("first@example.com", usd=1_000 * USD, instrument=instrument)
    place(seller, side="sell", price="95000", quantity="0.01")
    place(seller, side="sell", price="95000", quantity="0.1")
    place(seller, side="sell", price="96000", quantity="0.1")
    match(instrument)
    place(first, side="buy", price="95000", quantity="0.01")
    match(instrument)
    instrument.refresh_from_db()
    assert instrument.last_price_ticks == 95_000
    return seller


@pytest.mark.django_db
@override_settings(TRADING_MARKET_BUY_SLIPPAGE_PERCENT=5)
def test_holds_the_quantity_at_the_slippage_limit_and_settles_exactly():
    btc_usd = make_btc_usd()
    traded_book(btc_usd)
    buyer = trader("buyer@example.com", usd=30_000 * USD, instrument=btc_usd)
    order = place(buyer, side="buy", type="market", quantity="0.15")
    bound = 99_750 * 15  # 95,000 + 5 % = 99,750 per 0.01 BTC, fees in BTC
    assert order.hold.amount == bound == 1_496_250
    assert order.quote_limit == bound
    # the rest was never held: available at once
    assert balances(buyer) == {"USD": (3_000_000 - bound, bound)}

    match(btc_usd)
    order.refresh_from_db()
    assert (order.status, order.filled_lots, order.filled_quote) == (
        "filled",
        15,
        COST,
    )
    assert order.fees_paid == 30_000  # 0.15 BTC x 20 bps
    assert order.hold.remaining_amount == 0
    assert balances(buyer) == {
        "USD": (3_000_000 - COST, 0),
        "BTC": (15_000_000 - 30_000, 0),
    }
    assert_ledger_ok()


@pytest.mark.django_db
def test_the_band_top_bounds_it_and_a_quote_fee_is_held_on_top():
    btc_usd = make_btc_usd(price_band_percent=10, fee_policy="quote")
    traded_book(btc_usd)
    buyer = trader("buyer@example.com", usd=30_000 * USD, instrument=btc_usd)
    order = place(buyer, side="buy", type="market", quantity="0.15")
    notional = 104_500 * 15  # the band's top: 95,000 + 10 %
    bound = notional + 3_135  # 20 bps of 1,567,500 = 3,135 (exact)
    assert order.hold.amount == bound == 1_570_635
    assert balances(buyer) == {"USD": (3_000_000 - bound, bound)}

    match(btc_usd)
    fees = 1_900 + 960  # 20 bps of 950,000 and of 480,000, in USD
    order.refresh_from_db()
    assert (order.status, order.filled_quote, order.fees_paid) == (
        "filled",
        COST,
        fees,
    )
    assert balances(buyer) == {
        "USD": (3_000_000 - COST - fees, 0),
        "BTC": (15_000_000, 0),
    }
    assert_ledger_ok()


@pytest.mark.django_db
@override_settings(TRADING_MARKET_BUY_SLIPPAGE_PERCENT=5)
def test_less_available_than_the_bound_holds_what_is_there():
    btc_usd = make_btc_usd()
    traded_book(btc_usd)
    buyer = trader("buyer@example.com", usd=10_000 * USD, instrument=btc_usd)
    order = place(buyer, side="buy", type="market", quantity="0.15")
    assert order.hold.amount == 1_000_000
    assert balances(buyer) == {"USD": (0, 1_000_000)}
    match(btc_usd)
    order.refresh_from_db()
    assert (order.status, order.reason, order.filled_lots) == (
        "expired",
        "quote_limit",
        10,
    )
    assert balances(buyer) == {"USD": (50_000, 0), "BTC": (10_000_000 - 20_000, 0)}
    assert_ledger_ok()


@pytest.mark.django_db
@override_settings(TRADING_MARKET_BUY_SLIPPAGE_PERCENT=5)
def test_a_stop_market_buy_is_bounded_by_its_stop_price_and_released_on_cancel():
    from trading.services import order_cancel

    btc_usd = make_btc_usd()
    traded_book(btc_usd)
    buyer = trader("buyer@example.com", usd=30_000 * USD, instrument=btc_usd)
    order = place(
        buyer, side="buy", type="stop_market", stop_price="97000", quantity="0.15"
    )
    bound = 101_850 * 15  # 97,000 + 5 %
    assert order.hold.amount == bound
    match(btc_usd)
    assert balances(buyer) == {"USD": (3_000_000 - bound, bound)}
    order_cancel(user=buyer, order_id=order.pk)
    match(btc_usd)
    assert balances(buyer) == {"USD": (3_000_000, 0)}
    assert_ledger_ok()


@pytest.mark.django_db
def test_nothing_traded_yet_holds_the_available_balance():
    btc_usd = make_btc_usd()
    seller = trader("seller@example.com", btc=BTC, instrument=btc_usd)
    place(seller, side="sell", price="95000", quantity="0.1")
    match(btc_usd)
    buyer = trader("buyer@example.com", usd=30_000 * USD, instrument=btc_usd)
    order = place(buyer, side="buy", type="market", quantity="0.05")
    assert order.hold.amount == 3_000_000  # no reference price to bound it by
    match(btc_usd)
    assert balances(buyer) == {
        "USD": (3_000_000 - 5 * 95_000, 0),
        "BTC": (5_000_000 - 10_000, 0),
    }
    assert_ledger_ok()


def race(count: int, work) -> list:
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait(timeout=30)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(TRADING_MARKET_BUY_SLIPPAGE_PERCENT=5)
def test_racing_market_buys_exhaust_the_balance_to_the_unit():
    btc_usd = make_btc_usd()
    traded_book(btc_usd)
    buyer = trader("racer@example.com", usd=20_000 * USD, instrument=btc_usd)

    def buy(_):
        try:
            order = place(buyer, side="buy", type="market", quantity="0.1")
        except ApplicationError as exc:
            return exc.code
        return order.hold.amount

    with lost_messages():  # no matching during the race: holds only
        outcomes = race(4, buy)
    bound = 99_750 * 10
    # two hold their bound, one what was left, one finds nothing: in some order
    assert sorted(outcomes, key=str) == sorted(
        [bound, bound, 2_000_000 - 2 * bound, "insufficient_funds"], key=str
    )
    assert balances(buyer) == {"USD": (0, 2_000_000)}

    match(btc_usd)
    spent = 10 * 95_000 + 10 * 96_000
    assert balances(buyer) == {
        "USD": (2_000_000 - spent, 0),
        "BTC": (20_000_000 - 40_000, 0),  # 20 bps of each 0.10
    }
    assert Order.objects.filter(user=buyer, status="filled").count() == 2
    assert_ledger_ok()
