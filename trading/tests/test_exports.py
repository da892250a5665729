"""My fills and my orders as CSV: streamed, a header row, the reader's zone named
in the time column and on every time (trading/exports.py)."""

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from kyc.testing import make_verified_user
from trading.services import order_place
from trading.tests.helpers import fund, make_btc_usd, match

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client():
    """Alice bought 0.1 BTC at 95,000.00 from bob at 08:30 UTC on Dec 7 2026."""
    instrument = make_btc_usd()
    alice = make_verified_user(email="alice@example.com")
    alice.time_zone = "Asia/Kolkata"
    alice.save(update_fields=["time_zone"])
    bob = make_verified_user(email="bob@example.com")
    fund(alice, instrument.quote, 100_000_00)
    fund(bob, instrument.base, 10**8)
    with time_machine.travel(datetime(2026, 12, 7, 8, 30, tzinfo=UTC), tick=False):
        order_place(
            user=bob, symbol="BTC-USD", side="sell", price="95000", quantity="0.1"
        )
        match(instrument)
        buy, _ = order_place(
            user=alice, symbol="BTC-USD", side="buy", price="95000", quantity="0.1"
        )
        match(instrument)
    client = Client()
    client.force_login(alice, backend="accounts.backends.EmailBackend")
    return client, buy


def _read(response) -> list[list[str]]:
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_fills_csv_has_a_header_and_times_in_my_zone(alice_client):
    client, buy = alice_client
    response = client.get("/trading/fills.csv?side=buy")
    assert response["Content-Disposition"] == 'attachment; filename="fills.csv"'
    rows = _read(response)
    assert rows[0][:3] == ["time (Asia/Kolkata)", "symbol", "side"]
    trade_seq = rows[1][-1]
    assert rows[1:] == [
        [
            "2026-12-07 14:00:00 IST",  # 08:30 UTC is 14:00 in India
            "BTC-USD",
            "buy",
            "taker",
            "95000.00",
            "0.10000000",
            "9500.00",
            "USD",
            "0.00020000",
            "BTC",
            str(buy.pk),
            trade_seq,
        ]
    ]
    # the filters are the page's: no sells
    assert _read(client.get("/trading/fills.csv?side=sell")) == rows[:1]


def test_orders_csv_lists_my_orders_with_status(alice_client):
    client, buy = alice_client
    rows = _read(client.get("/trading/orders.csv"))
    assert rows[0][0] == "time (Asia/Kolkata)"
    assert rows[1] == [
        "2026-12-07 14:00:00 IST",
        str(buy.pk),
        "BTC-USD",
        "buy",
        "limit",
        "95000.00",
        "",
        "0.10000000",
        "0.10000000",
        "95000.00",
        "0.00020000",
        "BTC",
        "filled",
        "",
    ]
    assert len(rows) == 2
    # and the pages link to the downloads with their filters
    page = client.get("/trading/fills/?side=buy").content.decode()
    assert 'href="/trading/fills.csv?side=buy"' in page
