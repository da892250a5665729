"""Domain events trading records (config/events.py); it never imports the apps
that react to them (marketdata's streams, candles and tickers subscribe in
config/subscribers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from trading.engine import Book, Indicative, LevelChanged, PhaseChanged
from trading.engine import Trade as TradeEvent
from trading.models import Fill, Instrument, Order, Trade


@dataclass(frozen=True, slots=True)
class MatchingRunApplied:
    """A matching run applied commands to an instrument's book and wrote their
    outcome. Recorded in the run's transaction, under the instrument lock, once
    its rows are written (trades and fills carry their ids).

    One event per run, not one per order or trade: a run changes up to hundreds
    of orders and its subscribers write in bulk (a few statements per run, the
    matcher's hot path). Each change is still named: an order's `status` says
    whether it was accepted (open), amended (still open, new price or quantity),
    partially filled, filled, cancelled, expired or rejected."""

    instrument: Instrument  # base and quote loaded; last_price_ticks current
    book: Book  # as the run left it (depth, sequence)
    # the engine's, in order; Indicative and PhaseChanged consume no number
    book_changes: Sequence[TradeEvent | LevelChanged | Indicative | PhaseChanged]
    trades: Sequence[Trade]
    fills: Sequence[Fill]  # each with its trade
    orders: Sequence[Order]  # every order the run changed, as it now is


@dataclass(frozen=True, slots=True)
class PriceAlertTriggered:
    """A trade of a matching run crossed a user's price alert (recorded in the
    run's transaction). Prices are display strings in the quote asset."""

    alert_id: int
    user_id: int
    symbol: str
    condition: str  # "above" | "below"
    threshold: str
    last_price: str
    trade_id: int
    repeating: bool


@dataclass(frozen=True, slots=True)
class InstrumentStatusChanged:
    """An instrument was halted, resumed or closed (recorded in the transaction
    of `instrument_set_status`): the market stream tells its watchers live."""

    symbol: str
    old: str
    new: str
    reason: str
    at: datetime
