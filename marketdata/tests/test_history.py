"""seed_demo's history: several days of real trades on every demo instrument,
so the 1h, 4h and 1d candles are not empty, and the candles are exactly what
the trades make (built by marketdata's own subscriber of the matching runs).
The market maker quotes every demo instrument, RELIANCE-INR and TCS-INR too,
from the bundled replay sample."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from marketdata.candles import bucket_start
from marketdata.feeds import DEMO_SAMPLE, ReplayFeed
from marketdata.history import HISTORY_MARKETS, price_path
from marketdata.management.commands.market_maker import build_market_maker
from marketdata.marketmaker import DEMO_MARKETS
from marketdata.models import Candle
from trading.models import Instrument, Trade
from wallet.tests.helpers import assert_ledger_ok

SYMBOLS = ["BTC-USD", "ETH-USD", "RELIANCE-INR", "TCS-INR"]


def test_price_path_ends_at_the_reference_and_is_repeatable():
    path = price_path(reference_ticks=58_000, steps=48, seed="RELIANCE-INR")
    assert len(path) == 48 and path[-1] == 58_000
    assert path == price_path(reference_ticks=58_000, steps=48, seed="RELIANCE-INR")
    assert all(price > 0 for price in path)


HISTORY_DAYS = 4


@pytest.mark.django_db
@override_settings(DEMO_HISTORY_DAYS=HISTORY_DAYS)
def test_seed_demo_gives_every_demo_instrument_candles_that_match_its_trades():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    now = timezone.now()
    assert set(HISTORY_MARKETS) == set(SYMBOLS)
    for instrument in Instrument.objects.filter(symbol__in=SYMBOLS):
        trades = list(Trade.objects.filter(instrument=instrument).order_by("seq"))
        assert len(trades) == HISTORY_DAYS * 12, instrument.symbol
        assert trades[0].created_at < now - timedelta(days=HISTORY_DAYS - 1)
        assert trades[-1].created_at < now
        for interval in ("1h", "4h", "1d"):
            candles = {
                candle.open_time: candle
                for candle in Candle.objects.filter(
                    instrument=instrument, interval=interval
                )
            }
            assert candles, (instrument.symbol, interval)
            # each candle is its trades': open, high, low, close, volumes, count
            buckets: dict = {}
            for trade in trades:
                buckets.setdefault(bucket_start(trade.created_at, interval), []).append(
                    trade
                )
            assert set(candles) == set(buckets)
            for start, members in buckets.items():
                candle = candles[start]
                prices = [t.price_ticks for t in members]
                assert (
                    candle.open,
                    candle.high,
                    candle.low,
                    candle.close,
                    candle.volume,
                    candle.quote_volume,
                    candle.trades,
                ) == (
                    prices[0],
                    max(prices),
                    min(prices),
                    prices[-1],
                    sum(t.quantity_lots for t in members),
                    sum(t.quote_amount for t in members),
                    len(members),
                )
        assert len(Candle.objects.filter(instrument=instrument, interval="1d")) >= 4
    assert "RELIANCE-INR: 48 trades over the last 4 days" in out.getvalue()
    assert_ledger_ok()

    # once: a second run adds no trade
    count = Trade.objects.count()
    call_command("seed_demo", stdout=io.StringIO())
    assert Trade.objects.count() == count

    # and the market maker quotes all four, from the bundled sample
    bot, _ = build_market_maker({"maker": "marketmaker@example.com"})
    assert sorted(bot.markets) == SYMBOLS == sorted(DEMO_MARKETS)
    for symbol in SYMBOLS:
        result = bot.refresh(symbol, next_reference(symbol))
        assert result.placed and not result.skipped, (symbol, result.skipped)


def next_reference(symbol: str):
    feed = ReplayFeed(
        DEMO_SAMPLE,
        symbol_map={
            "BTCUSDT": "BTC-USD",
            "ETHUSDT": "ETH-USD",
            "RELIANCE-INR": "RELIANCE-INR",
            "TCS-INR": "TCS-INR",
        },
    )
    return next(r.price for r in feed.records() if r.symbol == symbol)
