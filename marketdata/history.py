"""Demo history: a few days of real trades so the chart's 1h, 4h and 1d
candles are not empty on a fresh demo (docs/trade-screen.md, "Demo data").

Each trade is made as any other: the market maker bot rests a limit order and
the taker bot meets it with an IOC order, through `order_place` and the matching
run, with the clock set back to the trade's moment (time-machine). So the
trades, fills, ledger postings, tickers and candles are the platform's own,
written by the same code as live ones (the candles by marketdata's subscriber
of the matching run). The price path is a seeded random walk that ends at the
instrument's demo reference price, where the market maker then quotes.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import time_machine
from django.conf import settings
from django.utils import timezone

from trading.models import Instrument, Order, Trade
from trading.units import ticks_to_price

HISTORY_STEP = timedelta(hours=2)
# symbol: (reference price, quantity per trade), decimal strings
HISTORY_MARKETS = {
    "BTC-USD": ("98700", "0.02"),
    "ETH-USD": ("3340", "0.2"),
    "RELIANCE-INR": ("2900", "2"),
    "TCS-INR": ("4100", "1"),
}
STEP_BPS = 60  # the walk's typical move per step, basis points


def price_path(
    *, reference_ticks: int, steps: int, seed: str, step_bps: int = STEP_BPS
) -> list[int]:
    """`steps` prices in ticks, oldest first, the last one `reference_ticks`:
    a seeded walk taken backwards from the reference (integers only)."""
    rng = random.Random(seed)
    prices = [reference_ticks]
    for _ in range(steps - 1):
        move = round(rng.gauss(0, step_bps))
        prices.append(max(1, prices[-1] * (10_000 + move) // 10_000))
    return prices[::-1]


def _trade_once(*, instrument, maker, taker, price: str, quantity: str, buy: bool):
    from trading.services import matching_run, order_place

    side = Order.Side.BUY if buy else Order.Side.SELL
    other = Order.Side.SELL if buy else Order.Side.BUY
    order_place(
        user=maker, symbol=instrument.symbol, side=side, price=price, quantity=quantity
    )
    order_place(
        user=taker,
        symbol=instrument.symbol,
        side=other,
        price=price,
        quantity=quantity,
        time_in_force=Order.TimeInForce.IOC,
    )
    while matching_run(instrument_id=instrument.pk).more:
        pass


def history_seed(
    *,
    maker,
    taker,
    out,
    now: datetime | None = None,
    days: int | None = None,
    step: timedelta = HISTORY_STEP,
) -> int:
    """Trades every `step` over the last `days` (DEMO_HISTORY_DAYS) on each demo
    instrument that trades and has no trade yet (so it runs once). Returns the
    trades made."""
    from trading.units import price_to_ticks

    days = settings.DEMO_HISTORY_DAYS if days is None else days
    if days <= 0:
        return 0
    now = now or timezone.now()
    steps = int(timedelta(days=days) / step)
    made = 0
    for symbol, (reference, quantity) in HISTORY_MARKETS.items():
        instrument = (
            Instrument.objects.select_related("base", "quote")
            .filter(symbol=symbol, status=Instrument.Status.TRADING)
            .first()
        )
        if instrument is None or Trade.objects.filter(instrument=instrument).exists():
            continue
        path = price_path(
            reference_ticks=price_to_ticks(instrument, reference),
            steps=steps,
            seed=symbol,
        )
        start = now - step * steps
        with time_machine.travel(start, tick=False) as clock:
            for index, ticks in enumerate(path):
                clock.move_to(start + step * (index + 1) - timedelta(minutes=1))
                _trade_once(
                    instrument=instrument,
                    maker=maker,
                    taker=taker,
                    price=ticks_to_price(instrument, ticks),
                    quantity=quantity,
                    buy=index % 2 == 0,
                )
        made += len(path)
        out(f"  {symbol}: {len(path)} trades over the last {days} days")
    return made
