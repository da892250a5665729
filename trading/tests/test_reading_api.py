"""GET /api/v1/fills: exact fields, filters, newest-first cursor paging, queries."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.testing import api_client_for
from kyc.testing import make_verified_user
from trading.models import Fill, Trade
from trading.services import order_place
from trading.tests.helpers import fund, make_btc_usd, match

pytestmark = pytest.mark.django_db


@pytest.fixture
def market():
    instrument = make_btc_usd()
    buyer = make_verified_user(email="buyer@example.com")
    seller = make_verified_user(email="seller@example.com")
    fund(buyer, instrument.quote, 500_000_00)
    fund(seller, instrument.base, 5 * 10**8)
    return instrument, buyer, seller


def _trade(instrument, maker, taker, maker_side, price, quantity):
    taker_side = "buy" if maker_side == "sell" else "sell"
    made, _ = order_place(
        user=maker, symbol="BTC-USD", side=maker_side, price=price, quantity=quantity
    )
    match(instrument)
    taken, _ = order_place(
        user=taker, symbol="BTC-USD", side=taker_side, price=price, quantity=quantity
    )
    match(instrument)
    return made, taken


def test_fills_list_shows_each_side_with_exact_strings(market):
    instrument, buyer, seller = market
    sell, buy = _trade(instrument, seller, buyer, "sell", "95000", "0.3")
    trade = Trade.objects.get()

    body = api_client_for(buyer).get("/api/v1/fills").json()
    assert body["results"] == [
        {
            "id": Fill.objects.get(user=buyer).pk,
            "trade_id": trade.pk,
            "seq": 2,
            "order_id": buy.pk,
            "symbol": "BTC-USD",
            "side": "buy",
            "liquidity": "taker",
            "price": "95000.00",
            "quantity": "0.30000000",
            "quote_amount": "28500.00",
            "fee": "0.00060000",
            "fee_asset": "BTC",
            "created_at": body["results"][0]["created_at"],
        }
    ]
    (fill,) = api_client_for(seller).get("/api/v1/fills").json()["results"]
    assert (fill["order_id"], fill["side"], fill["liquidity"]) == (
        sell.pk,
        "sell",
        "maker",
    )
    assert (fill["fee"], fill["fee_asset"], fill["trade_id"]) == (
        "28.50",
        "USD",
        trade.pk,
    )


def test_fills_filters_and_newest_first_cursor_paging(market):
    instrument, buyer, seller = market
    orders = [
        _trade(instrument, seller, buyer, "sell", price, "0.1")
        for price in ("90000", "91000", "92000")
    ]
    client = api_client_for(seller)

    first = client.get("/api/v1/fills?limit=2").json()
    assert [f["price"] for f in first["results"]] == ["92000.00", "91000.00"]
    second = client.get(first["next"]).json()
    assert [f["price"] for f in second["results"]] == ["90000.00"]
    assert second["next"] is None

    by_order = client.get(f"/api/v1/fills?order_id={orders[1][0].pk}").json()
    assert [f["price"] for f in by_order["results"]] == ["91000.00"]
    assert client.get("/api/v1/fills?side=buy").json()["results"] == []
    assert len(client.get("/api/v1/fills?side=sell").json()["results"]) == 3
    assert client.get("/api/v1/fills?symbol=eth-usd").json()["results"] == []
    assert len(client.get("/api/v1/fills?symbol=btc-usd").json()["results"]) == 3

    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert client.get("/api/v1/fills", {"created_after": later}).json() == {
        "next": None,
        "previous": None,
        "results": [],
    }
    assert (
        len(client.get("/api/v1/fills", {"created_before": later}).json()["results"])
        == 3
    )


def test_bad_filters_are_400_naming_the_field(market):
    client = api_client_for(market[1])
    response = client.get("/api/v1/fills?side=hold")
    assert response.status_code == 400
    assert "side" in response.json()["error"]["details"]
    assert client.get("/api/v1/fills?created_after=yesterday").status_code == 400


def test_nobody_sees_another_users_fills(market):
    instrument, buyer, seller = market
    _trade(instrument, seller, buyer, "sell", "95000", "0.3")
    other = api_client_for(make_verified_user(email="other@example.com"))
    assert other.get("/api/v1/fills").json()["results"] == []
    assert len(api_client_for(buyer).get("/api/v1/fills").json()["results"]) == 1
    assert APIClient().get("/api/v1/fills").status_code == 401


def test_fills_query_count_is_pinned(market, django_assert_num_queries):
    instrument, buyer, seller = market
    for price in ("90000", "91000", "92000", "93000"):
        _trade(instrument, seller, buyer, "sell", price, "0.1")
    client = api_client_for(buyer)
    with django_assert_num_queries(2):  # the user, then one page of fills
        response = client.get("/api/v1/fills")
    assert len(response.json()["results"]) == 4
