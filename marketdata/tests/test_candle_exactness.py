"""Candles and the ticker stay exact through crashes: every trade is folded
into each interval's candle exactly once, in sequence order. They are written
in the matching run's transaction (docs/marketdata.md, "Why candles and
tickers are exact"), so a crash after the aggregation and before the commit
rolls them back with the trades, and the retry applies the same trades once."""

from __future__ import annotations

import pytest

from marketdata.candles import INTERVALS, bucket_start
from marketdata.models import Candle
from marketdata.selectors import window_stats
from marketdata.tests.helpers import make_market, place
from trading.models import Trade
from trading.services import matching_run
from trading.state import matcher_state

pytestmark = pytest.mark.django_db


def _expected(instrument) -> dict:
    """Each interval's candles recomputed from the committed trades, seq order."""
    candles: dict = {}
    for trade in Trade.objects.filter(instrument=instrument).order_by("seq"):
        for interval in INTERVALS:
            key = (interval, bucket_start(trade.created_at, interval))
            price = trade.price_ticks
            row = candles.setdefault(key, [price, price, price, price, 0, 0, 0, 0])
            row[1], row[2] = max(row[1], price), min(row[2], price)
            row[3] = price
            row[4] += trade.quantity_lots
            row[5] += trade.quote_amount
            row[6] += 1
            row[7] = trade.seq
    return candles


def _stored(instrument) -> dict:
    return {
        (c.interval, c.open_time): [
            c.open,
            c.high,
            c.low,
            c.close,
            c.volume,
            c.quote_volume,
            c.trades,
            c.last_seq,
        ]
        for c in Candle.objects.filter(instrument=instrument)
    }


def test_a_crash_after_the_aggregation_replays_each_trade_exactly_once():
    """Given 6 sells at rising prices and 6 buys taking them one run at a
    time, when the 2nd and 4th runs crash after their candles are written (the
    fault hook runs after every subscriber, before commit) and are retried,
    then every candle equals the recomputation from the trades, the ticker's
    volume is the trades' volume, and each trade's seq is the candles' last."""
    instrument, buyer, seller = make_market("exact")
    for index in range(6):
        place(seller, "sell", str(100 + index), "0.1")
    matching_run(instrument_id=instrument.pk)  # the sells rest
    for _ in range(6):
        place(buyer, "buy", "200", "0.1")
    runs = []

    def crash_some(instrument):
        runs.append(instrument.engine_seq)
        if len(runs) in (2, 4):
            raise RuntimeError("crash after the aggregation, before commit")

    matcher_state.fault_hook = crash_some
    crashes = 0
    try:
        while True:
            try:
                if not matching_run(instrument_id=instrument.pk, batch_size=1).more:
                    break
            except RuntimeError:
                crashes += 1
    finally:
        matcher_state.fault_hook = None
    assert crashes == 2 and len(runs) == 8
    assert Trade.objects.filter(instrument=instrument).count() == 6
    expected = _expected(instrument)
    assert _stored(instrument) == expected
    minutes = [value for key, value in sorted(expected.items()) if key[0] == "1m"]
    last = Trade.objects.filter(instrument=instrument).latest("seq")
    assert sum(m[6] for m in minutes) == 6 and minutes[-1][7] == last.seq
    assert (minutes[0][0], minutes[-1][3]) == (100, 105)  # ticks of 1.00 USD
    stats = window_stats(instrument=instrument)
    assert (stats.volume, stats.trades) == (60, 6)


def test_runs_fold_into_the_same_candles_in_seq_order():
    """Trades of successive runs in one minute: one candle per interval whose
    close is the last seq's price and whose counts add up, not replaced."""
    instrument, buyer, seller = make_market("order")
    prices = ["105", "101", "108", "103"]
    for price in prices:
        place(seller, "sell", price, "0.1")
        matching_run(instrument_id=instrument.pk)
        place(buyer, "buy", price, "0.1")
        matching_run(instrument_id=instrument.pk)
    assert _stored(instrument) == _expected(instrument)
    candle = Candle.objects.get(instrument=instrument, interval="1w")
    assert (candle.open, candle.high, candle.low, candle.close) == (
        105,
        108,
        101,
        103,
    )
    assert (candle.trades, candle.volume, candle.last_seq) == (
        4,
        40,
        Trade.objects.filter(instrument=instrument).latest("seq").seq,
    )
