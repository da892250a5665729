"""Binance's public trade stream (no API key): one real outside reference feed.

Documented format (Binance Spot "Trade Streams", `<symbol>@trade`):

    {"e": "trade", "E": 1672515782136, "s": "BNBBTC", "t": 12345, "p": "0.001",
     "q": "100", "T": 1672515782136, "m": true, "M": true}

`p` is the price as a decimal string, `T` the trade time in epoch milliseconds,
`m` whether the buyer was the maker. On the combined endpoint (`/stream?streams=`)
each message is wrapped as `{"stream": "btcusdt@trade", "data": {...}}`. We
connect to the raw endpoint and subscribe with
`{"method": "SUBSCRIBE", "params": ["btcusdt@trade", ...], "id": 1}`, answered by
`{"result": null, "id": 1}`. The server sends pings (answered by the websockets
library) and ends every connection after 24 hours: we reconnect with exponential
back-off and jitter, and reset the back-off once messages flow again.

This machine cannot reach the internet, so the parsing is tested against recorded
messages (samples/binance_trades.jsonl) and the connection loop against a fake
socket; the code below is what runs against the real endpoint.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping

from marketdata.feeds.base import (
    Clock,
    FeedAdapter,
    FeedError,
    ReferencePrice,
    SystemClock,
    parse_price,
    parse_time,
)

logger = logging.getLogger(__name__)

BINANCE_WS_URL = "wss://stream.binance.com:9443/ws"
# Binance has no USD spot books; USDT is the usual stand-in for a USD reference.
QUOTE_ALIASES = {"USD": "USDT"}


def binance_symbol(symbol: str) -> str:
    """Our "BTC-USD" -> Binance's "BTCUSDT"."""
    base, _, quote = symbol.upper().partition("-")
    if not base or not quote:
        raise FeedError(f"symbol: expected BASE-QUOTE, got {symbol!r}")
    return base + QUOTE_ALIASES.get(quote, quote)


def parse_message(
    raw: str | bytes, symbols: Mapping[str, str]
) -> ReferencePrice | None:
    """One message from the socket -> a reference price for our symbol.

    `symbols` maps Binance symbols ("BTCUSDT") to ours ("BTC-USD"). Returns None for
    messages that carry no trade (subscription answers, other events, symbols we
    do not follow); raises FeedError for a malformed message."""
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise FeedError(f"not JSON: {raw[:80]!r}") from None
    if not isinstance(message, dict):
        raise FeedError(f"not a JSON object: {raw[:80]!r}")
    if "data" in message and "stream" in message:  # combined-stream envelope
        message = message["data"]
        if not isinstance(message, dict):
            raise FeedError("data: not a JSON object")
    if "error" in message:
        raise FeedError(f"server error: {message['error']!r}")
    if "result" in message and "id" in message:  # SUBSCRIBE acknowledgement
        return None
    if message.get("e") != "trade":
        return None
    feed_symbol = message.get("s")
    if not isinstance(feed_symbol, str) or not feed_symbol:
        raise FeedError("s: missing symbol")
    ours = symbols.get(feed_symbol.upper())
    if ours is None:
        return None
    if "p" not in message or "T" not in message:
        raise FeedError(f"{feed_symbol}: trade without p or T")
    return ReferencePrice(
        symbol=ours,
        price=parse_price(message["p"], field="p"),
        time=parse_time(message["T"], field="T"),
        source=f"binance:{feed_symbol.upper()}",
    )


def _default_connect(url: str):
    from websockets.asyncio.client import connect

    return connect(
        url, open_timeout=10, ping_interval=20, ping_timeout=20, max_size=2**20
    )


class Backoff:
    """Exponential back-off with full jitter: 1 s, 2 s, 4 s ... capped."""

    def __init__(
        self,
        *,
        initial: float = 1.0,
        maximum: float = 60.0,
        rng: random.Random | None = None,
    ):
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0
        self.rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2**self.attempt)
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class BinanceTradeFeed(FeedAdapter):
    """Reference prices from Binance trades, for our symbols.

    `symbols`: our symbols; each maps to Binance's with `binance_symbol` unless
    `symbol_map` ({ours: theirs}) says otherwise. `connect(url)` must return an
    async context manager yielding a socket that can `send()` and be iterated
    (websockets' client by default; tests pass a fake)."""

    name = "binance"

    def __init__(
        self,
        symbols: list[str],
        *,
        symbol_map: Mapping[str, str] | None = None,
        url: str = BINANCE_WS_URL,
        connect: Callable | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        max_reconnects: int | None = None,
    ):
        overrides = {k.upper(): v.upper() for k, v in (symbol_map or {}).items()}
        self.ours_by_theirs = {
            overrides.get(ours.upper(), binance_symbol(ours)): ours.upper()
            for ours in symbols
        }
        self.url = url
        self.connect = connect or _default_connect
        self.clock = clock or SystemClock()
        self.backoff = backoff or Backoff()
        self.max_reconnects = max_reconnects  # None: forever (tests bound it)
        self.malformed = 0

    def subscribe_message(self, request_id: int = 1) -> str:
        streams = [f"{theirs.lower()}@trade" for theirs in self.ours_by_theirs]
        return json.dumps({"method": "SUBSCRIBE", "params": streams, "id": request_id})

    async def stream(self) -> AsyncIterator[ReferencePrice]:
        from websockets.exceptions import WebSocketException

        reconnects = 0
        while True:
            try:
                async with self.connect(self.url) as socket:
                    await socket.send(self.subscribe_message())
                    logger.info("binance: subscribed to %s", list(self.ours_by_theirs))
                    async for raw in socket:
                        try:
                            price = parse_message(raw, self.ours_by_theirs)
                        except FeedError as error:
                            self.malformed += 1
                            logger.warning("binance: skipped a message: %s", error)
                            continue
                        self.backoff.reset()
                        if price is not None:
                            yield price
                logger.warning("binance: connection closed by the server")
            except (OSError, TimeoutError, WebSocketException) as error:
                logger.warning("binance: connection failed: %s", error)
            reconnects += 1
            if self.max_reconnects is not None and reconnects > self.max_reconnects:
                return
            delay = self.backoff.next_delay()
            logger.info("binance: reconnecting in %.1f s", delay)
            await self.clock.sleep(delay)
