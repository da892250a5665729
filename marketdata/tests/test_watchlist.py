"""The watchlist API: GET /api/v1/watchlist/, PUT and DELETE
/api/v1/watchlist/{symbol}/ (marketdata/api/watchlist.py)."""

import pytest
from rest_framework.test import APIClient

from accounts.testing import api_client_for
from kyc.testing import make_verified_user
from trading.models import WatchlistEntry
from trading.services import instrument_create, order_place
from trading.tests.helpers import fund, make_btc_usd, match
from wallet.models import Asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def traded():
    """BTC-USD traded at 95,000.00 then at 96,000.00 (within the last 24 h)."""
    instrument = make_btc_usd()
    alice = make_verified_user(email="alice@example.com")
    bob = make_verified_user(email="bob@example.com")
    fund(alice, instrument.quote, 1_000_000_00)
    fund(bob, instrument.base, 10**8)
    for price in ("95000", "96000"):
        order_place(
            user=bob, symbol="BTC-USD", side="sell", price=price, quantity="0.1"
        )
        order_place(
            user=alice, symbol="BTC-USD", side="buy", price=price, quantity="0.1"
        )
        match(instrument)
    return instrument, alice


def test_put_adds_then_get_lists_with_last_price_and_24h_change(traded):
    instrument, alice = traded
    client = api_client_for(alice)
    # Given an empty list
    assert client.get("/api/v1/watchlist/").json() == {"results": []}
    # When BTC-USD is added (lower case is the same symbol)
    added = client.put("/api/v1/watchlist/btc-usd/")
    # Then 201 with the row, and the list has it: +1.05% from 95,000 to 96,000
    row = {"symbol": "BTC-USD", "last_price": "96000.00", "change_24h_pct": "1.05"}
    assert (added.status_code, added.json()) == (201, row)
    assert client.get("/api/v1/watchlist/").json() == {"results": [row]}
    # and adding it again is a 200 with the same row, nothing duplicated
    again = client.put("/api/v1/watchlist/BTC-USD/")
    assert (again.status_code, again.json()) == (200, row)
    assert WatchlistEntry.objects.filter(user=alice).count() == 1


def test_delete_removes_and_unknown_symbols_are_404(traded):
    instrument, alice = traded
    client = api_client_for(alice)
    client.put("/api/v1/watchlist/BTC-USD/")
    assert client.delete("/api/v1/watchlist/BTC-USD/").status_code == 204
    assert client.get("/api/v1/watchlist/").json() == {"results": []}
    # removing what is not there is still a 204 (the state asked for holds)
    assert client.delete("/api/v1/watchlist/BTC-USD/").status_code == 204
    for method in (client.put, client.delete):
        missing = method("/api/v1/watchlist/DOGE-USD/")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "unknown_symbol"


def test_lists_are_per_user_in_the_order_added_and_need_a_login(traded):
    instrument, alice = traded
    eth = instrument_create(
        symbol="ETH-USD",
        base=Asset.objects.create(code="ETH", name="Ether", decimals=8, kind="crypto"),
        quote=instrument.quote,
        tick_size=100,
        lot_size=1_000_000,
    )
    bob = make_verified_user(email="carol@example.com")
    client = api_client_for(alice)
    client.put("/api/v1/watchlist/ETH-USD/")
    client.put("/api/v1/watchlist/BTC-USD/")
    symbols = [r["symbol"] for r in client.get("/api/v1/watchlist/").json()["results"]]
    assert symbols == ["ETH-USD", "BTC-USD"]
    # a symbol never traded has no price and no change
    eth_row = client.get("/api/v1/watchlist/").json()["results"][0]
    assert eth_row == {"symbol": eth.symbol, "last_price": None, "change_24h_pct": None}
    assert api_client_for(bob).get("/api/v1/watchlist/").json() == {"results": []}
    assert APIClient().get("/api/v1/watchlist/").status_code == 401
