"""The matching hook and the ledger hook, at the service level."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from marketdata.candles import bucket_start
from marketdata.models import BookSnapshot, Candle, UserEvent
from marketdata.selectors import market_snapshot, ticker_get, window_stats
from marketdata.services import user_event_prune
from marketdata.tests.helpers import make_market, match, place
from trading.models import Trade

pytestmark = pytest.mark.django_db


def test_snapshot_row_follows_every_batch():
    instrument, buyer, seller = make_market()
    place(seller, "sell", "101", "0.5")
    place(seller, "sell", "102", "0.25")
    place(buyer, "buy", "99", "1")
    match(instrument)
    row = BookSnapshot.objects.get(instrument=instrument)
    instrument.refresh_from_db()
    assert row.seq == instrument.engine_seq == 3
    assert row.bids == [[99, 100]]
    assert row.asks == [[101, 50], [102, 25]]

    place(buyer, "buy", "101", "0.2")  # trades 0.2 @ 101
    match(instrument)
    row.refresh_from_db()
    assert row.seq == 5  # one trade + one level change
    assert row.asks == [[101, 30], [102, 25]]


def test_candles_fold_trades_of_several_batches():
    instrument, buyer, seller = make_market()
    place(seller, "sell", "100", "1")
    place(seller, "sell", "105", "1")
    match(instrument)
    place(buyer, "buy", "105", "1.5")  # 1 @ 100, 0.5 @ 105
    match(instrument)
    place(seller, "sell", "98", "0.1")  # nothing to buy it -> rests; then a buy
    place(buyer, "buy", "98", "0.1")
    match(instrument)

    last = Trade.objects.latest("seq").created_at
    for interval in ("1m", "5m", "15m", "1h", "4h", "1d", "1w"):
        # Usually one candle; two if the batches straddled an interval boundary.
        candles = list(
            Candle.objects.filter(instrument=instrument, interval=interval).order_by(
                "open_time"
            )
        )
        assert candles[-1].open_time == bucket_start(last, interval)
        assert candles[0].open == 100 and candles[-1].close == 98
        assert max(c.high for c in candles) == 105
        assert min(c.low for c in candles) == 98
        assert sum(c.volume for c in candles) == 160  # lots of 0.01 BTC
        # 1 @ 100.00 + 0.5 @ 105.00 + 0.1 @ 98.00 = 162.30 USD
        assert sum(c.quote_volume for c in candles) == 162_30
        assert sum(c.trades for c in candles) == 3
        assert candles[-1].last_seq == Trade.objects.latest("seq").seq


def test_weeks_open_on_monday_and_days_at_midnight_utc():
    moment = datetime(2025, 1, 30, 15, 47, 12, tzinfo=UTC)  # a Thursday
    assert bucket_start(moment, "1w") == datetime(2025, 1, 27, tzinfo=UTC)
    assert bucket_start(moment, "1d") == datetime(2025, 1, 30, tzinfo=UTC)
    assert bucket_start(moment, "4h") == datetime(2025, 1, 30, 12, tzinfo=UTC)
    assert bucket_start(moment, "15m") == datetime(2025, 1, 30, 15, 45, tzinfo=UTC)
    monday = datetime(2025, 1, 27, 0, 0, tzinfo=UTC)
    assert bucket_start(monday, "1w") == monday


def test_ticker_rolls_24h_from_minute_candles():
    instrument, buyer, seller = make_market()
    now = timezone.now()
    minute = bucket_start(now, "1m")
    old = dict(instrument=instrument, interval="1m", volume=10, quote_volume=1000)
    Candle.objects.create(
        open_time=minute - timedelta(minutes=1440),  # just outside the window
        open=1,
        high=500,
        low=1,
        close=1,
        trades=1,
        **old,
    )
    Candle.objects.create(
        open_time=minute - timedelta(minutes=1439),  # first minute of the window
        open=90,
        high=95,
        low=80,
        close=92,
        trades=2,
        **old,
    )
    Candle.objects.create(
        open_time=minute - timedelta(minutes=60),
        open=92,
        high=120,
        low=91,
        close=110,
        trades=3,
        **old,
    )
    stats = window_stats(instrument=instrument, now=now)
    assert (stats.open, stats.high, stats.low) == (90, 120, 80)
    assert (stats.volume, stats.trades) == (20, 5)

    place(seller, "sell", "100", "0.5")
    place(buyer, "buy", "100", "0.5")
    match(instrument)
    ticker = ticker_get(instrument=instrument)
    assert ticker["last"] == "100.00"
    assert ticker["open"] == "90.00"
    assert ticker["high"] == "120.00"
    assert ticker["low"] == "80.00"
    assert ticker["volume"] == "0.70000000"  # 10 + 10 + 50 lots of 0.01
    assert ticker["change"] == "10.00"
    assert ticker["change_percent"] == "11.11"
    assert ticker["best_bid"] is None and ticker["best_ask"] is None


def test_order_fill_and_balance_events_per_user():
    instrument, buyer, seller = make_market()
    UserEvent.objects.all().delete()
    sell = place(seller, "sell", "100", "0.5")
    # placing holds 0.5 BTC: one balance event for the seller
    (event,) = UserEvent.objects.filter(user=seller)
    assert event.type == "balance"
    assert event.data == {
        "asset": "BTC",
        "available": "9.50000000",
        "held": "0.50000000",
        "total": "10.00000000",
    }
    match(instrument)
    order_event = UserEvent.objects.filter(user=seller, type="order").get()
    assert order_event.data["order"]["id"] == sell.pk
    assert order_event.data["order"]["status"] == "open"

    place(buyer, "buy", "100", "0.2")
    UserEvent.objects.all().delete()
    match(instrument)
    kinds = sorted(
        UserEvent.objects.exclude(type="notification").values_list(
            "user__email", "type"
        )
    )
    assert kinds == sorted(
        [
            ("md-buyer@example.com", "balance"),  # USD held -> paid
            ("md-buyer@example.com", "balance"),  # BTC received
            ("md-buyer@example.com", "order"),
            ("md-buyer@example.com", "fill"),
            ("md-seller@example.com", "balance"),  # BTC held -> paid
            ("md-seller@example.com", "balance"),  # USD received
            ("md-seller@example.com", "order"),
            ("md-seller@example.com", "fill"),
        ]
    )
    fill = UserEvent.objects.get(user=buyer, type="fill").data["fill"]
    assert fill["price"] == "100.00" and fill["quantity"] == "0.20000000"
    assert fill["fee"] == "0.00040000" and fill["fee_asset"] == "BTC"
    assert fill["liquidity"] == "taker" and fill["side"] == "buy"
    order = UserEvent.objects.get(user=seller, type="order").data["order"]
    assert order["status"] == "partially_filled"
    assert order["remaining_quantity"] == "0.30000000"


def test_balance_events_read_each_asset_once_per_process():
    """Asset code and decimals cannot change, so a process reads them once: the
    second settlement's balance events cost no asset query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    instrument, buyer, seller = make_market()
    place(seller, "sell", "101", "0.2")
    place(buyer, "buy", "101", "0.1")  # a trade: settled, balance events
    match(instrument)
    place(buyer, "buy", "101", "0.1")
    with CaptureQueriesContext(connection) as queries:
        match(instrument)
    assert Trade.objects.count() == 2
    assert not [q for q in queries if 'FROM "wallet_asset"' in q["sql"]]
    events = UserEvent.objects.filter(user=seller, type="balance").order_by("-pk")
    assert {event.data["asset"] for event in events[:2]} == {"USD", "BTC"}


def test_snapshot_trades_stop_at_its_sequence():
    instrument, buyer, seller = make_market()
    place(seller, "sell", "100", "1")
    place(buyer, "buy", "100", "0.1")
    match(instrument)
    snapshot = market_snapshot(symbol="btc-usd")
    assert snapshot["seq"] == 3
    assert [t["seq"] for t in snapshot["trades"]] == [2]
    assert snapshot["asks"] == [["100.00", "0.90000000"]]
    assert snapshot["ticker"]["sequence"] == 3


def test_snapshot_row_is_built_for_an_instrument_never_matched_since():
    instrument, buyer, seller = make_market()
    place(seller, "sell", "100", "1")
    match(instrument)
    BookSnapshot.objects.all().delete()
    snapshot = market_snapshot(symbol="BTC-USD")
    assert (snapshot["seq"], snapshot["asks"]) == (1, [["100.00", "1.00000000"]])
    assert BookSnapshot.objects.get().seq == 1


def test_prune_drops_events_past_retention():
    instrument, buyer, seller = make_market()
    UserEvent.objects.update(created_at=timezone.now() - timedelta(hours=100))
    place(seller, "sell", "100", "1")
    kept = UserEvent.objects.filter(created_at__gt=timezone.now() - timedelta(hours=1))
    assert kept.count() == 1
    assert user_event_prune() > 0
    assert UserEvent.objects.count() == 1
