"""Order services, one path at a time, every amount exact.

BTC-USD (see conftest): prices in whole dollars are ticks, quantities in 0.01 BTC
are lots, and one tick x one lot is one cent, so a buy's hold in cents is simply
price x lots. Fees: maker 10 bps, taker 20 bps; buyers pay in BTC, sellers in USD,
rounded up.
"""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import override_settings

from config.errors import ApplicationError, http_status
from trading.models import FeeOverride, Fill, Instrument, Order, OrderCommand, Trade
from trading.services import (
    instrument_create,
    instrument_set_status,
    instrument_update,
    order_amend,
    order_cancel,
    order_place,
)
from trading.tests.conftest import BTC, USD
from trading.tests.helpers import assert_ledger_ok, balances, fund, match
from wallet.models import Asset, Journal

pytestmark = pytest.mark.django_db


def place(user, symbol: str = "BTC-USD", **fields) -> Order:
    order, created = order_place(user=user, symbol=symbol, **fields)
    assert created
    return order


def state(order: Order) -> dict:
    order.refresh_from_db()
    return {
        "status": order.status,
        "reason": order.reason,
        "quantity": order.quantity_lots,
        "open": order.open_lots,
        "filled": order.filled_lots,
        "filled_quote": order.filled_quote,
        "fees": order.fees_paid,
        "hold": order.hold.remaining_amount if order.hold else None,
    }


def refused(call, code: str) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


@pytest.fixture
def book(btc_usd, make_trader):
    """A seller with two asks: 0.10 @ 95,000 and 0.10 @ 96,000."""
    seller = make_trader("seller@example.com", btc=BTC)
    asks = [
        place(seller, side="sell", price="95000", quantity="0.1"),
        place(seller, side="sell", price="96000", quantity="0.1"),
    ]
    match(btc_usd)
    return seller, asks


# --- market buys ------------------------------------------------------------------


def test_market_buy_by_quantity_holds_all_quote_and_releases_the_rest(
    btc_usd, make_trader, book
):
    seller, (ask1, ask2) = book
    buyer = make_trader("buyer@example.com", usd=30_000 * USD)
    order = place(buyer, side="buy", type="market", quantity="0.15")
    # No price to reserve by: the whole available balance is held.
    assert order.quote_limit == 30_000 * USD
    assert balances(buyer) == {"USD": (0, 30_000 * USD)}

    match(btc_usd)
    cost = 10 * 95_000 + 5 * 96_000  # cents
    assert state(order) == {
        "status": "filled",
        "reason": "",
        "quantity": 15,
        "open": 0,
        "filled": 15,
        "filled_quote": cost,
        "fees": 30_000,  # 0.15 BTC x 20 bps
        "hold": 0,
    }
    assert balances(buyer) == {
        "USD": (30_000 * USD - cost, 0),
        "BTC": (15_000_000 - 30_000, 0),
    }
    assert balances(seller) == {
        "BTC": (BTC - 20_000_000, 5_000_000),
        "USD": (cost - 950 - 480, 0),  # maker 10 bps of each fill, rounded up
    }
    assert state(ask1)["status"] == "filled"
    assert state(ask2) | {} == {
        "status": "partially_filled",
        "reason": "",
        "quantity": 10,
        "open": 5,
        "filled": 5,
        "filled_quote": 480_000,
        "fees": 480,
        "hold": 5_000_000,
    }
    assert_ledger_ok()


def test_market_buy_by_quantity_stops_when_the_balance_runs_out(
    btc_usd, make_trader, book
):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    order = place(buyer, side="buy", type="market", quantity="0.15")
    match(btc_usd)
    # 0.10 @ 95,000 = 9,500.00; 500.00 left cannot buy one lot at 96,000.
    assert state(order) == {
        "status": "expired",
        "reason": "quote_limit",
        "quantity": 15,
        "open": 0,
        "filled": 10,
        "filled_quote": 950_000,
        "fees": 20_000,
        "hold": 0,
    }
    assert balances(buyer) == {"USD": (50_000, 0), "BTC": (10_000_000 - 20_000, 0)}
    assert_ledger_ok()


def test_market_buy_by_quote_amount(btc_usd, make_trader, book):
    buyer = make_trader("buyer@example.com", usd=30_000 * USD)
    order = place(buyer, side="buy", type="market", quote_quantity="15000")
    assert balances(buyer) == {"USD": (15_000 * USD, 15_000 * USD)}
    match(btc_usd)
    # 0.10 @ 95,000 = 9,500.00, then 5,500.00 buys 0.05 @ 96,000 (4,800.00);
    # the 700.00 left cannot buy another lot.
    assert state(order) == {
        "status": "expired",
        "reason": "quote_limit",
        "quantity": None,
        "open": 0,
        "filled": 15,
        "filled_quote": 1_430_000,
        "fees": 30_000,
        "hold": 0,
    }
    assert balances(buyer) == {
        "USD": (30_000 * USD - 1_430_000, 0),
        "BTC": (15_000_000 - 30_000, 0),
    }
    assert_ledger_ok()


def test_market_buy_without_any_quote_is_refused_and_writes_nothing(
    btc_usd, make_trader, book
):
    buyer = make_trader("buyer@example.com")
    refused(
        lambda: place(buyer, side="buy", type="market", quantity="0.1"),
        "insufficient_funds",
    )
    assert not Order.objects.filter(user=buyer).exists()


def test_market_buy_into_an_empty_book_is_rejected_and_released(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=1_000 * USD)
    order = place(buyer, side="buy", type="market", quote_quantity="500")
    match(btc_usd)
    assert state(order)["status"] == "rejected"
    assert state(order)["reason"] == "no_liquidity"
    assert balances(buyer) == {"USD": (1_000 * USD, 0)}
    assert_ledger_ok()


def test_market_sell_walks_the_bids_and_expires_the_rest(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    place(buyer, side="buy", price="94000", quantity="0.1")
    place(buyer, side="buy", price="93000", quantity="0.05")
    match(btc_usd)
    order = place(seller, side="sell", type="market", quantity="0.2")
    assert balances(seller) == {"BTC": (80_000_000, 20_000_000)}
    match(btc_usd)
    quote = 10 * 94_000 + 5 * 93_000
    seller_fee = 1_880 + 930  # 20 bps of 940,000 and of 465,000 (taker)
    assert state(order) == {
        "status": "expired",
        "reason": "no_liquidity",
        "quantity": 20,
        "open": 0,
        "filled": 15,
        "filled_quote": quote,
        "fees": seller_fee,
        "hold": 0,
    }
    assert balances(seller) == {
        "BTC": (BTC - 15_000_000, 0),
        "USD": (quote - seller_fee, 0),
    }
    assert balances(buyer) == {
        "USD": (100_000 * USD - quote, 0),
        "BTC": (15_000_000 - 10_000 - 5_000, 0),
    }
    assert_ledger_ok()


# --- stops ------------------------------------------------------------------------


def test_stop_market_buy_with_quote_triggers_on_a_trade(btc_usd, make_trader, book):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    other = make_trader("other@example.com", usd=1_000 * USD)
    stop = place(
        buyer,
        side="buy",
        type="stop_market",
        stop_price="95000",
        quote_quantity="5000",
    )
    match(btc_usd)
    assert state(stop)["status"] == "open"
    assert not stop.stop_triggered
    assert balances(buyer) == {"USD": (5_000 * USD, 5_000 * USD)}

    place(other, side="buy", price="95000", quantity="0.01")  # prints 95,000
    match(btc_usd)
    stop.refresh_from_db()
    assert stop.stop_triggered
    # 5,000.00 buys 5 lots at 95,000 (4,750.00); 250.00 cannot buy one more.
    assert state(stop) == {
        "status": "expired",
        "reason": "quote_limit",
        "quantity": None,
        "open": 0,
        "filled": 5,
        "filled_quote": 475_000,
        "fees": 10_000,
        "hold": 0,
    }
    assert balances(buyer) == {
        "USD": (10_000 * USD - 475_000, 0),
        "BTC": (5_000_000 - 10_000, 0),
    }
    assert [t.seq for t in Trade.objects.order_by("seq")] == [3, 5]
    assert_ledger_ok()


def test_stop_limit_sell_rests_after_trigger_and_keeps_its_hold(
    btc_usd, make_trader, book
):
    seller, _ = book
    stopper = make_trader("stopper@example.com", btc=BTC)
    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    place(buyer, side="buy", price="94000", quantity="0.02")
    match(btc_usd)
    stop = place(
        stopper,
        side="sell",
        type="stop_limit",
        stop_price="94000",
        price="93500",
        quantity="0.05",
    )
    match(btc_usd)
    assert state(stop)["status"] == "open"
    assert balances(stopper) == {"BTC": (95_000_000, 5_000_000)}
    # A market sell prints 94,000: the stop fires, sells nothing (no bid >= 93,500
    # left) and rests at 93,500.
    place(seller, side="sell", type="market", quantity="0.02")
    match(btc_usd)
    assert state(stop) | {"triggered": stop.stop_triggered} == {
        "status": "open",
        "reason": "",
        "quantity": 5,
        "open": 5,
        "filled": 0,
        "filled_quote": 0,
        "fees": 0,
        "hold": 5_000_000,
        "triggered": True,
    }
    assert_ledger_ok()


# --- amend ------------------------------------------------------------------------


def test_amend_growing_a_buy_reserves_the_extra_at_once(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=10_000 * USD)
    order = place(buyer, side="buy", price="90000", quantity="0.05")
    match(btc_usd)
    assert balances(buyer) == {"USD": (550_000, 450_000)}

    order_amend(user=buyer, order_id=order.pk, quantity="0.1")
    assert balances(buyer) == {"USD": (100_000, 900_000)}  # before the matcher
    match(btc_usd)
    assert state(order) | {} == {
        "status": "open",
        "reason": "",
        "quantity": 10,
        "open": 10,
        "filled": 0,
        "filled_quote": 0,
        "fees": 0,
        "hold": 900_000,
    }

    commands = OrderCommand.objects.count()
    journals = Journal.objects.count()
    refused(
        lambda: order_amend(user=buyer, order_id=order.pk, quantity="0.12"),
        "insufficient_funds",
    )
    refused(
        lambda: order_amend(user=buyer, order_id=order.pk, price="100001"),
        "insufficient_funds",
    )
    assert OrderCommand.objects.count() == commands
    assert Journal.objects.count() == journals
    assert state(order)["quantity"] == 10
    assert balances(buyer) == {"USD": (100_000, 900_000)}
    assert_ledger_ok()


def test_amend_a_partially_filled_order(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=20_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    order = place(buyer, side="buy", price="90000", quantity="0.1")
    match(btc_usd)
    place(seller, side="sell", price="90000", quantity="0.04")
    match(btc_usd)
    assert state(order) == {
        "status": "partially_filled",
        "reason": "",
        "quantity": 10,
        "open": 6,
        "filled": 4,
        "filled_quote": 360_000,
        "fees": 4_000,
        "hold": 540_000,
    }
    # quantity is the new total: 0.08 leaves 0.04 open.
    order_amend(user=buyer, order_id=order.pk, quantity="0.08")
    match(btc_usd)
    assert state(order) | {} == {
        "status": "partially_filled",
        "reason": "",
        "quantity": 8,
        "open": 4,
        "filled": 4,
        "filled_quote": 360_000,
        "fees": 4_000,
        "hold": 360_000,
    }
    order_amend(user=buyer, order_id=order.pk, quantity="0.12", price="89000")
    assert balances(buyer)["USD"] == (20_000 * USD - 360_000 - 712_000, 712_000)
    match(btc_usd)
    assert state(order)["quantity"] == 12
    assert state(order)["open"] == 8
    assert state(order)["hold"] == 712_000
    refused(
        lambda: order_amend(user=buyer, order_id=order.pk, quantity="0.04"),
        "invalid_order",
    )
    assert_ledger_ok()


def test_amend_applies_the_new_total_to_fills_that_arrived_meanwhile(
    btc_usd, make_trader
):
    """The buyer asks for a total of 0.08 while 0.05 is being sold into the
    order: the order must end at 0.08 in total, holding for what is left."""
    buyer = make_trader("buyer@example.com", usd=20_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    order = place(buyer, side="buy", price="100", quantity="0.1")
    match(btc_usd)
    place(seller, side="sell", price="100", quantity="0.05")  # not matched yet
    order_amend(user=buyer, order_id=order.pk, quantity="0.08")
    match(btc_usd)
    assert state(order) == {
        "status": "partially_filled",
        "reason": "",
        "quantity": 8,
        "open": 3,
        "filled": 5,
        "filled_quote": 500,
        "fees": 5_000,
        "hold": 300,
    }
    assert_ledger_ok()
    # The rest still settles from the hold.
    place(seller, side="sell", price="100", quantity="0.03")
    match(btc_usd)
    assert state(order)["status"] == "filled"
    assert balances(buyer)["USD"] == (20_000 * USD - 800, 0)
    assert_ledger_ok()


def test_amend_to_a_total_already_filled_meanwhile_closes_the_order(
    btc_usd, make_trader
):
    buyer = make_trader("buyer@example.com", usd=20_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    order = place(buyer, side="buy", price="100", quantity="0.1")
    match(btc_usd)
    place(seller, side="sell", price="100", quantity="0.06")
    order_amend(user=buyer, order_id=order.pk, quantity="0.05")
    match(btc_usd)
    assert state(order) | {} == {
        "status": "cancelled",
        "reason": "user",
        "quantity": 10,
        "open": 0,
        "filled": 6,
        "filled_quote": 600,
        "fees": 6_000,
        "hold": 0,
    }
    assert balances(buyer)["USD"] == (20_000 * USD - 600, 0)
    assert_ledger_ok()


@pytest.mark.parametrize("batch_size", [1, 100])  # one amend per run, or both
def test_two_pending_amends_reserve_for_their_combined_effect(
    btc_usd, make_trader, batch_size
):
    from trading.services import matching_run

    buyer = make_trader("buyer@example.com", usd=20_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    order = place(buyer, side="buy", price="1000", quantity="0.1")
    match(btc_usd)
    order_amend(user=buyer, order_id=order.pk, quantity="0.2")  # 200.00
    assert balances(buyer)["USD"] == (20_000 * USD - 20_000, 20_000)
    order_amend(user=buyer, order_id=order.pk, price="2000")  # 0.2 x 2,000
    assert balances(buyer)["USD"] == (20_000 * USD - 40_000, 40_000)
    first = matching_run(instrument_id=btc_usd.pk, batch_size=batch_size)
    if batch_size == 1:  # the second amend still waits: the hold stays whole
        assert first.more and state(order)["hold"] == 40_000
    match(btc_usd)
    assert state(order)["hold"] == 40_000
    assert (order.price_ticks, order.quantity_lots) == (2000, 20)
    assert_ledger_ok()
    place(seller, side="sell", price="2000", quantity="0.2")
    match(btc_usd)
    assert state(order)["status"] == "filled"
    assert_ledger_ok()


def test_amend_sell_quantity_up_reserves_base(btc_usd, make_trader):
    seller = make_trader("seller@example.com", btc=10_000_000)
    order = place(seller, side="sell", price="95000", quantity="0.05")
    match(btc_usd)
    order_amend(user=seller, order_id=order.pk, quantity="0.1")
    assert balances(seller) == {"BTC": (0, 10_000_000)}
    refused(
        lambda: order_amend(user=seller, order_id=order.pk, quantity="0.11"),
        "insufficient_funds",
    )
    match(btc_usd)
    assert state(order)["open"] == 10
    assert_ledger_ok()


def test_only_resting_gtc_limits_are_amendable(btc_usd, make_trader, book):
    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    stop = place(buyer, side="buy", type="stop_limit", stop_price="99000",
                 price="99000", quantity="0.01")  # fmt: skip
    refused(
        lambda: order_amend(user=buyer, order_id=stop.pk, price="98000"),
        "order_not_amendable",
    )
    done = place(buyer, side="buy", price="95000", quantity="0.01")
    match(btc_usd)
    refused(
        lambda: order_amend(user=buyer, order_id=done.pk, price="94000"),
        "order_not_open",
    )


# --- validation -------------------------------------------------------------------


def test_price_band_around_the_last_trade(btc_usd, make_trader):
    instrument = instrument_update(instrument=btc_usd, price_band_percent=10)
    buyer = make_trader("buyer@example.com", usd=1_000_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    # No trade yet: no band.
    place(buyer, side="buy", price="1", quantity="0.01")
    place(seller, side="sell", price="100000", quantity="0.01")
    place(buyer, side="buy", price="100000", quantity="0.01")
    match(instrument)
    instrument.refresh_from_db()
    assert instrument.last_price_ticks == 100_000
    error = refused(
        lambda: place(buyer, side="buy", price="110001", quantity="0.01"),
        "price_out_of_band",
    )
    assert http_status(error) == 400
    assert "90000.00 to 110000.00" in error.message
    refused(
        lambda: place(buyer, side="buy", price="89999", quantity="0.01"),
        "price_out_of_band",
    )
    edge = place(buyer, side="buy", price="90000", quantity="0.01")
    place(seller, side="sell", price="110000", quantity="0.01")
    refused(
        lambda: order_amend(user=buyer, order_id=edge.pk, price="80000"),
        "price_out_of_band",
    )
    # Stop prices and market orders are not banded.
    place(buyer, side="buy", type="stop_market", stop_price="200000",
          quote_quantity="100")  # fmt: skip
    instrument_update(instrument=instrument, price_band_percent=0)
    place(buyer, side="buy", price="1", quantity="0.01")
    assert_ledger_ok()


def test_min_quantity_and_min_notional(btc_usd, make_trader):
    instrument_update(
        instrument=btc_usd, min_quantity=5_000_000, min_notional=1_000 * USD
    )
    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    refused(
        lambda: place(buyer, side="buy", price="90000", quantity="0.04"),
        "below_min_quantity",
    )
    refused(
        lambda: place(buyer, side="buy", price="100", quantity="0.05"),
        "below_min_notional",
    )
    refused(
        lambda: place(buyer, side="buy", type="market", quote_quantity="999.99"),
        "below_min_notional",
    )
    place(buyer, side="buy", price="20000", quantity="0.05")  # exactly 1,000.00
    place(buyer, side="buy", type="market", quote_quantity="1000")
    assert Order.objects.count() == 2


def test_too_many_open_orders(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    with override_settings(TRADING_MAX_OPEN_ORDERS=2):
        first = place(buyer, side="buy", price="100", quantity="0.01")
        place(buyer, side="buy", price="100", quantity="0.01")
        error = refused(
            lambda: place(buyer, side="buy", price="100", quantity="0.01"),
            "too_many_open_orders",
        )
        assert http_status(error) == 422
        order_cancel(user=buyer, order_id=first.pk)
        match(btc_usd)
        place(buyer, side="buy", price="100", quantity="0.01")
    match(btc_usd)
    assert Order.objects.filter(status="open").count() == 2


def test_fee_overrides_change_the_fees_charged(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    FeeOverride.objects.create(user=buyer, maker_fee_bps=0, taker_fee_bps=5)
    FeeOverride.objects.create(
        user=seller, instrument=btc_usd, maker_fee_bps=3, taker_fee_bps=50
    )
    FeeOverride.objects.create(user=seller, maker_fee_bps=0, taker_fee_bps=0)
    ask = place(seller, side="sell", price="95001", quantity="0.03")
    match(btc_usd)
    bid = place(buyer, side="buy", price="95001", quantity="0.03")
    match(btc_usd)
    assert (ask.maker_fee_bps, ask.taker_fee_bps) == (3, 50)
    assert (bid.maker_fee_bps, bid.taker_fee_bps) == (0, 5)
    trade = Trade.objects.get()
    # Seller (maker, 3 bps) on 2,850.03 USD = 0.855009 -> 0.86; buyer (taker,
    # 5 bps) on 0.03 BTC = 0.000015 BTC.
    assert (trade.quote_amount, trade.seller_fee, trade.buyer_fee) == (
        285_003,
        86,
        1_500,
    )
    assert balances(seller)["USD"] == (285_003 - 86, 0)
    assert balances(buyer)["BTC"] == (3_000_000 - 1_500, 0)
    assert state(ask)["fees"] == 86
    assert state(bid)["fees"] == 1_500
    assert_ledger_ok()


def test_fees_round_up_on_odd_amounts(make_trader):
    """A base asset with no decimals trades under the `quote` fee policy (its
    default): 8.61 USD at 20 bps is 0.01722 -> 0.02 USD, paid on top; the buyer
    gets all 7 units."""
    usd = Asset.objects.get(code="USD")
    xyz = Asset.objects.create(code="XYZ", name="XYZ", decimals=0, kind="crypto")
    instrument = instrument_create(
        symbol="XYZ-USD", base=xyz, quote=usd, tick_size=1, lot_size=1,
        maker_fee_bps=10, taker_fee_bps=20, price_band_percent=0,
    )  # fmt: skip
    assert instrument.fee_policy == "quote"
    buyer = make_trader("buyer@example.com", usd=1_000 * USD)
    seller = make_trader("seller@example.com")
    fund(seller, xyz, 100)
    ask = place(seller, "XYZ-USD", side="sell", price="1.23", quantity="7")
    match(instrument)
    bid = place(buyer, "XYZ-USD", side="buy", price="1.25", quantity="7")
    # 8.75 USD and its most fee (20 bps: 0.0175 -> 0.02) held
    assert bid.hold.amount == 877
    match(instrument)
    trade = Trade.objects.get()
    # 7 x 1.23 = 8.61 USD; seller maker 10 bps = 0.00861 -> 0.01; buyer taker
    # 20 bps of 8.61 USD = 0.01722 -> 0.02 USD.
    assert (trade.quote_amount, trade.seller_fee, trade.buyer_fee) == (861, 1, 2)
    assert trade.buyer_fee_asset == usd
    assert balances(buyer) == {"USD": (1_000 * USD - 863, 0), "XYZ": (7, 0)}
    assert balances(seller) == {"XYZ": (93, 0), "USD": (860, 0)}
    assert (state(ask)["fees"], state(bid)["fees"]) == (1, 2)
    assert Fill.objects.get(order=bid).fee_asset == usd
    assert_ledger_ok()


def test_received_policy_takes_the_buyers_fee_in_base(make_trader):
    """`received` (chosen here for a whole-unit base with lots of 10): the buyer's
    fee comes out of the base it receives, rounded up: 20 bps of 10 XYZ = 0.02 ->
    1 XYZ."""
    usd = Asset.objects.get(code="USD")
    xyz = Asset.objects.create(code="XYZ", name="XYZ", decimals=0, kind="crypto")
    instrument = instrument_create(
        symbol="XYZ-USD", base=xyz, quote=usd, tick_size=1, lot_size=10,
        maker_fee_bps=10, taker_fee_bps=20, price_band_percent=0,
        fee_policy="received",
    )  # fmt: skip
    buyer = make_trader("buyer@example.com", usd=1_000 * USD)
    seller = make_trader("seller@example.com")
    fund(seller, xyz, 100)
    place(seller, "XYZ-USD", side="sell", price="1.23", quantity="10")
    match(instrument)
    bid = place(buyer, "XYZ-USD", side="buy", price="1.25", quantity="10")
    assert bid.hold.amount == 1_250  # the notional only: the fee is in base
    match(instrument)
    trade = Trade.objects.get()
    assert (trade.quote_amount, trade.seller_fee, trade.buyer_fee) == (1_230, 2, 1)
    assert trade.buyer_fee_asset == xyz
    assert balances(buyer) == {"USD": (1_000 * USD - 1_230, 0), "XYZ": (9, 0)}
    assert_ledger_ok()


def test_received_policy_needs_a_lot_of_two_units(make_trader):
    """A `received` fee rounded up to a whole unit would take a lot of one unit."""
    usd = Asset.objects.get(code="USD")
    xyz = Asset.objects.create(code="XYZ", name="XYZ", decimals=0, kind="crypto")
    with pytest.raises(ApplicationError) as caught:
        instrument_create(
            symbol="XYZ-USD", base=xyz, quote=usd, tick_size=1, lot_size=1,
            fee_policy="received",
        )  # fmt: skip
    assert caught.value.details == {"fee_policy": [mock.ANY]}
    with pytest.raises(ApplicationError):
        instrument_create(
            symbol="XYZ-USD", base=xyz, quote=usd, tick_size=1, lot_size=1,
            fee_policy="base",
        )  # fmt: skip
    assert not Instrument.objects.filter(symbol="XYZ-USD").exists()


# --- halt -------------------------------------------------------------------------


def test_halted_instrument_refuses_orders_keeps_book_cancels_and_resumes(
    btc_usd, make_trader
):
    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    seller = make_trader("seller@example.com", btc=BTC)
    resting = place(buyer, side="buy", price="90000", quantity="0.1")
    other = place(buyer, side="buy", price="89000", quantity="0.1")
    match(btc_usd)
    queued = place(seller, side="sell", price="90000", quantity="0.05")
    instrument_set_status(instrument=btc_usd, status="halted", reason="test")
    match(btc_usd)
    assert state(queued)["status"] == "pending"  # waits for the resume
    error = refused(
        lambda: place(buyer, side="buy", price="90000", quantity="0.01"),
        "instrument_not_trading",
    )
    assert http_status(error) == 409
    refused(
        lambda: order_amend(user=buyer, order_id=resting.pk, price="1"),
        "instrument_not_trading",
    )
    order_cancel(user=buyer, order_id=other.pk)
    match(btc_usd)
    assert state(other)["status"] == "cancelled"
    assert balances(buyer)["USD"] == (100_000 * USD - 900_000, 900_000)

    instrument_set_status(instrument=btc_usd, status="trading")
    match(btc_usd)
    assert state(queued)["status"] == "filled"
    assert state(resting)["filled"] == 5
    assert Instrument.objects.get().status == "trading"
    assert_ledger_ok()


# --- a process's copy of the rules --------------------------------------------------
# Placement validates against this process's copy of the instrument and re-reads the
# rules, status and last price under its lock. `QuerySet.update` below stands for an
# edit made by another process: nothing here hears of it.


def test_rules_changed_elsewhere_apply_to_the_next_order(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    place(buyer, side="buy", price="100", quantity="0.01")  # the copy is taken
    edit = Instrument.objects.filter(pk=btc_usd.pk)

    edit.update(min_quantity=5_000_000)  # stricter: found under the lock
    refused(
        lambda: place(buyer, side="buy", price="100", quantity="0.04"),
        "below_min_quantity",
    )
    edit.update(min_quantity=0)  # looser: the stale copy's refusal is re-judged
    place(buyer, side="buy", price="100", quantity="0.04")

    edit.update(lot_size=10_000_000)  # 0.1 BTC
    refused(
        lambda: place(buyer, side="buy", price="100", quantity="0.15"), "invalid_lot"
    )
    order = place(buyer, side="buy", price="100", quantity="0.2")
    assert order.quantity_lots == 2  # lots of the new size
    edit.update(maker_fee_bps=1, taker_fee_bps=2)
    order = place(buyer, side="buy", price="100", quantity="0.2")
    assert (order.maker_fee_bps, order.taker_fee_bps) == (1, 2)
    assert Order.objects.count() == 4
    assert_ledger_ok()


def test_halt_and_resume_elsewhere_apply_to_the_next_order(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    place(buyer, side="buy", price="100", quantity="0.01")
    edit = Instrument.objects.filter(pk=btc_usd.pk)
    edit.update(status="halted")
    refused(
        lambda: place(buyer, side="buy", price="100", quantity="0.01"),
        "instrument_not_trading",
    )
    edit.update(status="trading")
    place(buyer, side="buy", price="100", quantity="0.01")
    assert Order.objects.count() == 2


def test_the_band_uses_the_last_price_read_under_the_lock(btc_usd, make_trader):
    buyer = make_trader("buyer@example.com", usd=1_000_000 * USD)
    edit = Instrument.objects.filter(pk=btc_usd.pk)
    edit.update(price_band_percent=10)
    place(buyer, side="buy", price="1", quantity="0.01")  # no trade yet: no band
    edit.update(last_price_ticks=100_000)  # a trade settled by a worker
    refused(
        lambda: place(buyer, side="buy", price="1", quantity="0.01"),
        "price_out_of_band",
    )
    place(buyer, side="buy", price="95000", quantity="0.01")


def test_kyc_and_fee_override_are_read_at_each_placement(btc_usd, make_trader):
    from kyc.models import KycProfile

    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    place(buyer, side="buy", price="100", quantity="0.01")
    FeeOverride.objects.create(user=buyer, maker_fee_bps=3, taker_fee_bps=4)
    order = place(buyer, side="buy", price="100", quantity="0.01")
    assert (order.maker_fee_bps, order.taker_fee_bps) == (3, 4)
    FeeOverride.objects.create(
        user=buyer, instrument=btc_usd, maker_fee_bps=5, taker_fee_bps=6
    )  # the instrument's own override wins over the user's default
    order = place(buyer, side="buy", price="100", quantity="0.01")
    assert (order.maker_fee_bps, order.taker_fee_bps) == (5, 6)
    KycProfile.objects.filter(user=buyer).update(status="rejected")
    error = refused(
        lambda: place(buyer, side="buy", price="100", quantity="0.01"),
        "kyc_required",
    )
    assert http_status(error) == 403
    assert Order.objects.count() == 3


def test_a_warm_copy_costs_no_instrument_query(btc_usd, make_trader):
    """The lock statement's rule columns and `instrument_rules` agree, so an
    unchanged instrument is never read again (else every order reloads it)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    place(buyer, side="buy", price="100", quantity="0.01")
    with CaptureQueriesContext(connection) as queries:
        place(buyer, side="buy", price="100", quantity="0.01")
    reads = [
        q["sql"] for q in queries if q["sql"].startswith('SELECT "trading_instrument"')
    ]
    assert reads == []
    assert sum("JOIN trading_instrument i" in q["sql"] for q in queries) == 1


def test_cancel_and_amend_read_the_order_and_instrument_in_one_locked_statement(
    btc_usd, make_trader
):
    """The order comes from the lock statement as the ORM would build it; the
    instrument from this process's copy, with the status read under the lock."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.bulk import instance_from_row, model_columns
    from trading.services.orders import _locked_own_order

    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    order = place(
        buyer, side="buy", price="100", quantity="0.02", post_only=True,
        client_order_id="lock-1",
    )  # fmt: skip
    stored = Order.objects.get(pk=order.pk)
    with CaptureQueriesContext(connection) as queries:
        locked = _locked_own_order(buyer, order.pk)
    assert len(queries) == 1  # a warm copy: no instrument read
    for field in Order._meta.concrete_fields:
        ours, orms = getattr(locked, field.attname), getattr(stored, field.attname)
        assert (ours, type(ours)) == (orms, type(orms)), field.name
    assert locked.instrument.pk == btc_usd.pk and locked.instrument.base.code == "BTC"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {model_columns(Order, 'o')} FROM trading_order o"  # noqa: S608
            " WHERE o.id = %s",
            [order.pk],
        )
        assert instance_from_row(Order, cursor.fetchone()).created_at == (
            stored.created_at
        )

    Instrument.objects.filter(pk=btc_usd.pk).update(status="halted")  # elsewhere
    cancelled = order_cancel(user=buyer, order_id=order.pk)  # cancels still go
    assert cancelled.instrument.status == "halted"
    assert order.commands.filter(kind="cancel").count() == 1
    order_cancel(user=buyer, order_id=order.pk)  # pending: nothing more
    assert order.commands.filter(kind="cancel").count() == 1
    refused(
        lambda: order_amend(user=buyer, order_id=order.pk, price="101"),
        "instrument_not_trading",
    )
    Instrument.objects.filter(pk=btc_usd.pk).update(lot_size=2_000_000)  # elsewhere
    assert _locked_own_order(buyer, order.pk).instrument.lot_size == 2_000_000
    other = make_trader("other@example.com")
    error = refused(
        lambda: order_cancel(user=other, order_id=order.pk), "order_not_found"
    )
    assert http_status(error) == 404


def test_a_placement_writes_order_hold_journal_status_and_command_together(
    btc_usd, make_trader
):
    """On PostgreSQL the order's id is drawn under the lock and the order goes in
    after its hold; either way the rows name each other."""
    from trading.models import OrderStatusChange

    buyer = make_trader("buyer@example.com", usd=100_000 * USD)
    order = place(buyer, side="buy", price="100", quantity="0.02", client_order_id="a1")
    order = Order.objects.select_related("hold").get(pk=order.pk)
    assert (order.hold.reference_kind, order.hold.reference_id) == (
        "order",
        str(order.pk),
    )
    assert (order.hold.amount, order.hold.remaining_amount) == (200, 200)
    journal = Journal.objects.get(reference=f"order:{order.pk}")
    assert journal.metadata == {"hold": order.hold.pk, "symbol": "BTC-USD"}
    assert list(
        OrderStatusChange.objects.filter(order=order).values_list("to_status")
    ) == [("pending",)]
    assert list(order.commands.values_list("kind", "processed_at")) == [("place", None)]
    assert balances(buyer)["USD"] == (100_000 * USD - 200, 200)
    from marketdata.models import UserEvent

    event = UserEvent.objects.filter(user=buyer, type="balance").latest("pk")
    assert (event.data["available"], event.data["held"]) == ("99998.00", "2.00")
    # a retry returns the same order and writes nothing more
    again, created = order_place(
        user=buyer, symbol="BTC-USD", side="buy", price="100", quantity="0.02",
        client_order_id="a1",
    )  # fmt: skip
    assert (again.pk, created) == (order.pk, False)
    assert Journal.objects.filter(reference__startswith="order:").count() == 1
    assert_ledger_ok()
