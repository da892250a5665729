"""The feed-adapter interface: outside reference prices for the market maker.

An adapter turns some outside source (an exchange's public trade stream, a
recorded file, a fixed number) into an async stream of `ReferencePrice` events for
*our* instrument symbols. Adapters do no database work and know nothing of
Django; the market maker decides what to do with a price.

Prices are `Decimal`s exactly as the source sent them (never floats); snapping a
reference to an instrument's tick is the market maker's job.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol


class FeedError(ValueError):
    """A message or a record that cannot be turned into a reference price."""


@dataclass(frozen=True)
class ReferencePrice:
    symbol: str  # our instrument symbol, e.g. "BTC-USD"
    price: Decimal
    time: datetime  # when the source says the price happened (UTC)
    source: str = ""  # e.g. "binance:BTCUSDT", "replay", "static"


class Clock(Protocol):
    """Time for adapters, injectable so replay timing is testable."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FeedAdapter(ABC):
    """An async iterable of reference prices. `stream()` runs until the source
    ends (a replay without loop) or the task is cancelled."""

    name: str = "feed"

    @abstractmethod
    def stream(self) -> AsyncIterator[ReferencePrice]:
        """Yield reference prices as they arrive."""


def parse_price(value: object, *, field: str = "price") -> Decimal:
    """A strictly positive, finite decimal from a string (or an int). JSON floats
    are refused: they have already lost precision."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise FeedError(f"{field}: expected a decimal string, got {value!r}")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise FeedError(f"{field}: not a number: {value!r}") from None
    if not price.is_finite() or price <= 0:
        raise FeedError(f"{field}: must be a positive number: {value!r}")
    return price


def parse_time(value: object, *, field: str = "time") -> datetime:
    """Epoch milliseconds (int) or an ISO 8601 string, as an aware UTC datetime."""
    if isinstance(value, bool):
        raise FeedError(f"{field}: not a time: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise FeedError(f"{field}: negative epoch: {value!r}")
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FeedError(f"{field}: not an ISO time: {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise FeedError(f"{field}: not a time: {value!r}")


class StaticFeed(FeedAdapter):
    """A fixed reference per symbol (`--reference static:95000`): emits each once,
    then stays quiet until cancelled."""

    name = "static"

    def __init__(
        self, prices: Mapping[str, Decimal | str], *, clock: Clock | None = None
    ):
        self.prices = {symbol: parse_price(str(p)) for symbol, p in prices.items()}
        self.clock = clock or SystemClock()

    async def stream(self) -> AsyncIterator[ReferencePrice]:
        now = datetime.now(tz=UTC)
        for symbol, price in self.prices.items():
            yield ReferencePrice(symbol, price, now, "static")
        while True:
            await self.clock.sleep(3600)
