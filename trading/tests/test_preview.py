"""The order review: POST /api/v1/orders/preview runs placement's own path
without writing, so what it says placement would hold is what placement holds;
it walks the book for the estimate and answers placement's errors in the same
shape. The preference to skip the review for limit orders."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.testing import api_client_for
from trading.models import Order, OrderCommand
from trading.services import order_place, order_preview, trading_preference_set
from trading.tests.conftest import BTC, USD
from trading.tests.helpers import balances, match
from wallet.models import Hold, Journal

pytestmark = pytest.mark.django_db


@pytest.fixture
def traded(btc_usd, make_trader):
    """Last trade 95,000; asks 0.10 @ 95,000 and 0.10 @ 96,000; a bid 0.10 @
    94,000."""
    seller = make_trader("seller@example.com", btc=BTC)
    bidder = make_trader("bidder@example.com", usd=20_000 * USD)
    for price, quantity in (("95000", "0.01"), ("95000", "0.1"), ("96000", "0.1")):
        order_place(
            user=seller, symbol="BTC-USD", side="sell", price=price, quantity=quantity
        )
    match(btc_usd)
    order_place(
        user=bidder, symbol="BTC-USD", side="buy", price="95000", quantity="0.01"
    )
    order_place(
        user=bidder, symbol="BTC-USD", side="buy", price="94000", quantity="0.1"
    )
    match(btc_usd)
    return seller


ORDERS = [
    {"side": "buy", "type": "market", "quantity": "0.15"},
    {"side": "buy", "type": "market", "quote_quantity": "5000"},
    {"side": "buy", "type": "limit", "price": "95500", "quantity": "0.2"},
    {"side": "sell", "type": "market", "quantity": "0.05"},
    {"side": "buy", "type": "stop_market", "stop_price": "97000", "quantity": "0.1"},
    {
        "side": "buy",
        "type": "stop_limit",
        "stop_price": "97000",
        "price": "97500",
        "quantity": "0.1",
    },
]


@override_settings(TRADING_MARKET_BUY_SLIPPAGE_PERCENT=5)
@pytest.mark.parametrize("fields", ORDERS)
def test_the_preview_holds_what_placement_holds(traded, make_trader, fields):
    user = make_trader("user@example.com", usd=30_000 * USD, btc=BTC)
    journals = Journal.objects.count()
    preview = order_preview(user=user, symbol="BTC-USD", **fields)
    # nothing written, nothing reserved
    assert Journal.objects.count() == journals
    assert balances(user) == {"USD": (3_000_000, 0), "BTC": (BTC, 0)}
    assert not Order.objects.filter(user=user).exists()

    order, _ = order_place(user=user, symbol="BTC-USD", **fields)
    hold = Hold.objects.get(pk=order.hold_id)
    assert (hold.asset, hold.amount) == (preview.hold.asset, preview.hold.amount)
    assert order.quote_limit == preview.order.quote_limit
    assert (order.maker_fee_bps, order.taker_fee_bps) == (
        preview.order.maker_fee_bps,
        preview.order.taker_fee_bps,
    )


@override_settings(TRADING_MARKET_BUY_SLIPPAGE_PERCENT=5)
def test_the_estimate_walks_the_book(traded, make_trader):
    user = make_trader("user@example.com", usd=30_000 * USD)
    client = api_client_for(user)
    response = client.post(
        "/api/v1/orders/preview",
        {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "0.15"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "symbol": "BTC-USD",
        "side": "buy",
        "type": "market",
        "time_in_force": "gtc",
        "price": None,
        "stop_price": None,
        "quantity": "0.15000000",
        "quote_quantity": None,
        "expire_at": None,
        "trailing_amount": None,
        "trailing_bps": None,
        "maker_fee_bps": 10,
        "taker_fee_bps": 20,
        "estimate": {
            "basis": "book",
            "quantity": "0.15000000",
            # 0.10 @ 95,000 + 0.05 @ 96,000 = 14,300.00 for 0.15
            "average_price": "95333.33",
            "value": "14300.00",
            "fee": "0.00030000",  # 20 bps of 0.15 BTC
            "fee_asset": "BTC",
            "resting_quantity": "0.00000000",
            "unfilled_quantity": "0.00000000",
        },
        "hold": {"asset": "USD", "amount": "14962.50", "available": "30000.00"},
        "review_required": True,
    }
    # a limit order crossing part of the book: the rest rests, at the maker rate
    response = client.post(
        "/api/v1/orders/preview",
        {"symbol": "BTC-USD", "side": "buy", "price": "95500", "quantity": "0.2"},
        format="json",
    )
    body = response.json()
    assert body["estimate"] | {} == {
        "basis": "book",
        "quantity": "0.10000000",
        "average_price": "95000.00",
        "value": "9500.00",
        "fee": "0.00030000",  # 20 bps of 0.10 + 10 bps of 0.10
        "fee_asset": "BTC",
        "resting_quantity": "0.10000000",
        "unfilled_quantity": "0.00000000",
    }
    assert body["hold"]["amount"] == "19100.00"  # 95,500 x 0.2
    assert body["review_required"] is True  # 19,100 of 30,000: over 25 %
    assert not OrderCommand.objects.filter(order__user=user).exists()


def test_errors_are_placements_in_the_same_shape(traded, make_trader):
    user = make_trader("user@example.com", usd=100 * USD)
    client = api_client_for(user)
    for body in (
        {"symbol": "BTC-USD", "side": "buy", "price": "95000.5", "quantity": "1"},
        {"symbol": "BTC-USD", "side": "buy", "price": "95000", "quantity": "1"},
        {"symbol": "NOPE-USD", "side": "buy", "price": "1", "quantity": "1"},
        {"symbol": "BTC-USD", "side": "buy", "type": "market"},
    ):
        preview = client.post("/api/v1/orders/preview", body, format="json")
        placed = client.post("/api/v1/orders", body, format="json")
        assert preview.status_code == placed.status_code >= 400, body
        assert preview.json() == placed.json()
        assert "error" in preview.json()
    assert not Order.objects.filter(user=user).exists()


def test_review_rule_and_the_skip_preference(traded, make_trader):
    user = make_trader("user@example.com", usd=100_000 * USD)
    small = {"side": "buy", "price": "90000", "quantity": "0.01"}  # 900 of 100k
    large = {"side": "buy", "price": "90000", "quantity": "0.3"}  # 27,000: 27 %
    market = {"side": "buy", "type": "market", "quantity": "0.01"}

    def required(fields) -> bool:
        return order_preview(user=user, symbol="BTC-USD", **fields).review_required

    assert (required(small), required(large), required(market)) == (
        False,
        True,
        True,
    )
    client = api_client_for(user)
    assert client.get("/api/v1/trading/preferences").json() == {
        "skip_review_for_limit_orders": False
    }
    response = client.put(
        "/api/v1/trading/preferences",
        {"skip_review_for_limit_orders": True},
        format="json",
    )
    assert response.json() == {"skip_review_for_limit_orders": True}
    assert (required(small), required(large), required(market)) == (
        False,
        False,
        True,
    )
    trading_preference_set(user=user, skip_limit_review=False)
    assert required(large) is True
    bad = client.put(
        "/api/v1/trading/preferences",
        {"skip_review_for_limit_orders": "maybe"},
        format="json",
    )
    assert bad.status_code == 400
    assert "skip_review_for_limit_orders" in bad.json()["error"]["details"]
