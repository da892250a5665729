"""The matching job end to end at the service level: holds, fills, settlement."""

import pytest

from kyc.testing import make_verified_user
from trading.models import Order, Trade
from trading.services import order_cancel, order_place
from trading.tests.helpers import assert_ledger_ok, balances, fund, make_btc_usd, match

pytestmark = pytest.mark.django_db


@pytest.fixture
def market():
    instrument = make_btc_usd()
    seller = make_verified_user(email="seller@example.com")
    buyer = make_verified_user(email="buyer@example.com")
    fund(seller, instrument.base, 2 * 10**8)  # 2 BTC
    fund(buyer, instrument.quote, 200_000_00)  # 200,000.00 USD
    return instrument, buyer, seller


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
