"""Outside reference prices for the market maker (see docs/trade-screen.md).

`feed_from_spec("replay" | "replay:PATH" | "binance" | "static:95000", symbols=...)`
builds an adapter from the command line's words.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from marketdata.feeds.base import (
    Clock,
    FeedAdapter,
    FeedError,
    ReferencePrice,
    StaticFeed,
    SystemClock,
    parse_price,
)
from marketdata.feeds.binance import BinanceTradeFeed, binance_symbol
from marketdata.feeds.replay import DEMO_SAMPLE, ReplayFeed

__all__ = [
    "BinanceTradeFeed",
    "Clock",
    "FeedAdapter",
    "FeedError",
    "ReferencePrice",
    "ReplayFeed",
    "StaticFeed",
    "SystemClock",
    "feed_from_spec",
]


def feed_from_spec(
    spec: str, *, symbols: list[str], speed: float = 1.0, loop: bool = True
) -> FeedAdapter:
    """ "replay" plays the bundled demo sample (looping), "replay:PATH" a file of
    yours, "binance" the live public trade stream, "static:95000" a fixed price
    (for one symbol, or `static:BTC-USD=95000,ETH-USD=3400`)."""
    kind, _, argument = spec.partition(":")
    symbols = [symbol.upper() for symbol in symbols]
    if kind == "replay":
        path = Path(argument) if argument else DEMO_SAMPLE
        return ReplayFeed(
            path,
            symbol_map={binance_symbol(s): s for s in symbols}
            | {s: s for s in symbols},
            speed=speed,
            loop=loop,
        )
    if kind == "binance":
        return BinanceTradeFeed(symbols)
    if kind == "static":
        if "=" in argument:
            pairs = dict(item.split("=", 1) for item in argument.split(","))
            prices = {k.strip().upper(): parse_price(v) for k, v in pairs.items()}
        elif len(symbols) == 1:
            prices = {symbols[0]: parse_price(argument)}
        else:
            raise FeedError(
                "static: with several symbols use static:BTC-USD=95000,ETH-USD=3400"
            )
        return StaticFeed({s: Decimal(p) for s, p in prices.items()})
    raise FeedError(
        f"unknown feed {spec!r}: use replay, replay:PATH, binance, static:P"
    )
