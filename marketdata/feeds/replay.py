"""Replay a recorded file of trades or quotes as reference prices.

The file is JSON lines, one record each, in time order:

    {"time": 1732233600000, "symbol": "BTCUSDT", "price": "95000.10"}     a trade
    {"time": "2024-11-22T00:00:01Z", "symbol": "BTCUSDT",
     "bid": "94999.90", "ask": "95000.30"}                                a quote

`time` is epoch milliseconds or ISO 8601; a quote's reference is its mid price.
Blank lines and lines starting with `#` are comments; a malformed record is
skipped and counted (`skipped`), never fatal.

Timing: record i is emitted (t_i - t_0) / speed seconds after the first one, on the
injected clock (speed 2 = twice as fast; speed 0 = as fast as possible, no
sleeping at all). With `loop=True` the file starts over after its last record,
the times of each new pass shifted by the span of the file (plus one average gap),
so the emitted times keep increasing. Deterministic: the same file, speed and
clock give the same events at the same clock times.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

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

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
DEMO_SAMPLE = SAMPLES_DIR / "demo_reference.jsonl"


@dataclass(frozen=True)
class Record:
    time: datetime
    symbol: str  # as in the file
    price: Decimal


def parse_record(line: str) -> Record | None:
    """One line -> a record; None for blank and comment lines; FeedError if bad."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        raise FeedError(f"not JSON: {line[:80]!r}") from None
    if not isinstance(data, dict):
        raise FeedError(f"not a JSON object: {line[:80]!r}")
    symbol = data.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise FeedError("symbol: missing")
    when = parse_time(data.get("time"))
    if "price" in data:
        price = parse_price(data["price"])
    elif "bid" in data and "ask" in data:
        bid = parse_price(data["bid"], field="bid")
        ask = parse_price(data["ask"], field="ask")
        if bid > ask:
            raise FeedError(f"crossed quote: bid {bid} > ask {ask}")
        price = (bid + ask) / 2
    else:
        raise FeedError("needs price, or bid and ask")
    return Record(time=when, symbol=symbol.upper(), price=price)


class ReplayFeed(FeedAdapter):
    """Plays `path` for our `symbols`. `symbol_map` maps the file's symbols to ours
    ({"BTCUSDT": "BTC-USD"}); by default a record whose symbol is one of ours is
    taken as is."""

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        *,
        symbol_map: Mapping[str, str] | None = None,
        speed: float = 1.0,
        loop: bool = False,
        clock: Clock | None = None,
    ):
        if speed < 0:
            raise ValueError("speed: must be >= 0 (0 = as fast as possible)")
        self.path = Path(path)
        self.symbol_map = {k.upper(): v.upper() for k, v in (symbol_map or {}).items()}
        self.speed = speed
        self.loop = loop
        self.clock = clock or SystemClock()
        self.skipped = 0

    def records(self) -> list[Record]:
        """The file's valid records for our symbols (malformed ones counted)."""
        records: list[Record] = []
        self.skipped = 0
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    record = parse_record(line)
                except FeedError as error:
                    self.skipped += 1
                    logger.warning("%s:%d skipped: %s", self.path.name, number, error)
                    continue
                if record is None:
                    continue
                ours = self.symbol_map.get(record.symbol)
                if ours is None and not self.symbol_map:
                    ours = record.symbol
                if ours is not None:
                    records.append(
                        Record(time=record.time, symbol=ours, price=record.price)
                    )
        return records

    async def stream(self) -> AsyncIterator[ReferencePrice]:
        records = self.records()
        if not records:
            return
        first = records[0].time
        span = records[-1].time - first
        gap = span / (len(records) - 1) if len(records) > 1 else timedelta(seconds=1)
        shift = timedelta(0)
        start = self.clock.monotonic()
        while True:
            for record in records:
                offset = (record.time - first + shift).total_seconds()
                if self.speed:
                    wait = start + offset / self.speed - self.clock.monotonic()
                    if wait > 0:
                        await self.clock.sleep(wait)
                yield ReferencePrice(
                    symbol=record.symbol,
                    price=record.price,
                    time=record.time + shift,
                    source=f"replay:{self.path.name}",
                )
            if not self.loop:
                return
            shift += span + gap
