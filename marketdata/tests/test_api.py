"""The public market data endpoints and the event replay endpoint."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.testing import api_client_for
from marketdata.models import UserEvent
from marketdata.tests.helpers import make_market, match, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def market():
    instrument, buyer, seller = make_market()
    place(seller, "sell", "101", "0.5")
    place(seller, "sell", "102", "0.25")
    place(buyer, "buy", "99", "1")
    place(buyer, "buy", "98", "0.3")
    match(instrument)
    place(buyer, "buy", "101", "0.2")
    match(instrument)
    return instrument, buyer, seller


def test_depth_is_public_and_carries_the_sequence(market):
    response = APIClient().get("/api/v1/markets/btc-usd/depth?limit=1")
    assert response.status_code == 200
    assert response.json() == {
        "symbol": "BTC-USD",
        "sequence": 6,
        "bids": [["99.00", "1.00000000"]],
        "asks": [["101.00", "0.30000000"]],
    }


def test_a_stale_token_does_not_break_public_reads(market):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get("/api/v1/markets/BTC-USD/ticker").status_code == 200


def test_depth_limit_is_validated(market):
    response = APIClient().get("/api/v1/markets/BTC-USD/depth?limit=100000")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_unknown_symbol_is_404():
    response = APIClient().get("/api/v1/markets/NOPE-USD/depth")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_symbol"


def test_trades_newest_first_with_id_and_seq(market):
    response = APIClient().get("/api/v1/markets/BTC-USD/trades")
    (trade,) = response.json()["results"]
    assert trade["seq"] == 5 and trade["id"] > 0
    assert (trade["price"], trade["quantity"], trade["taker_side"]) == (
        "101.00",
        "0.20000000",
        "buy",
    )
    assert trade["time"].endswith("Z")


def test_ticker(market):
    data = APIClient().get("/api/v1/markets/BTC-USD/ticker").json()
    assert data["sequence"] == 6
    assert (data["last"], data["best_bid"], data["best_ask"]) == (
        "101.00",
        "99.00",
        "101.00",
    )
    assert (data["open"], data["high"], data["low"]) == ("101.00",) * 3
    assert data["volume"] == "0.20000000"
    assert data["quote_volume"] == "20.20"
    assert (data["change"], data["change_percent"]) == ("0.00", "0.00")


def test_markets_list(market):
    (item,) = APIClient().get("/api/v1/markets").json()["results"]
    assert item["symbol"] == "BTC-USD"
    assert (item["tick_size"], item["lot_size"]) == ("1.00", "0.01000000")
    assert (item["last_price"], item["change_percent_24h"]) == ("101.00", "0.00")


def test_candles(market):
    response = APIClient().get("/api/v1/markets/BTC-USD/candles?interval=1h")
    data = response.json()
    assert data["interval"] == "1h"
    (candle,) = data["results"]
    assert candle["time"] % 3600 == 0
    assert (candle["open"], candle["close"], candle["trades"]) == (
        "101.00",
        "101.00",
        1,
    )
    start = candle["time"]
    after = APIClient().get(
        f"/api/v1/markets/BTC-USD/candles?interval=1h&start={start + 3600}"
    )
    assert after.json()["results"] == []
    bad = APIClient().get("/api/v1/markets/BTC-USD/candles?interval=2h")
    assert bad.status_code == 400
    reversed_range = APIClient().get(
        "/api/v1/markets/BTC-USD/candles?interval=1m&start=100&end=50"
    )
    assert reversed_range.status_code == 400


def test_events_replay_only_my_events_after_since_id(market):
    _, buyer, seller = market
    client = api_client_for(buyer)
    first = client.get("/api/v1/events?limit=2").json()
    assert len(first["results"]) == 2 and first["has_more"] is True
    ids = []
    since = 0
    while True:
        page = client.get(f"/api/v1/events?since_id={since}&limit=3").json()
        ids += [event["event_id"] for event in page["results"]]
        since = page["last_id"]
        if not page["has_more"]:
            break
    mine = list(UserEvent.objects.filter(user=buyer).values_list("id", flat=True))
    assert ids == sorted(mine)
    assert set(ids).isdisjoint(
        UserEvent.objects.filter(user=seller).values_list("id", flat=True)
    )
    event = client.get(f"/api/v1/events?since_id={ids[-2]}").json()["results"][0]
    assert event["event_id"] == ids[-1] and event["type"] in (
        "order",
        "fill",
        "balance",
    )


def test_events_need_login_and_accept_the_session(market):
    _, buyer, _ = market
    assert APIClient().get("/api/v1/events").status_code == 401
    browser = Client()
    browser.force_login(buyer, backend="accounts.backends.EmailBackend")
    assert browser.get("/api/v1/events").status_code == 200
