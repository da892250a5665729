"""Reads shared by the REST API, the WebSocket consumers and the matching hook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Max, Min, Sum
from django.utils import timezone

from calendars.selectors import session_state_get
from marketdata import formats, messages
from marketdata.candles import bucket_start
from marketdata.models import BookSnapshot, Candle, UserEvent
from trading.models import Instrument, Trade
from trading.selectors import instrument_get
from trading.units import base_str, lots_to_quantity, quote_str, ticks_to_price

WINDOW_MINUTES = 1440


# --- Book -------------------------------------------------------------------------


def book_snapshot_get(*, instrument: Instrument) -> BookSnapshot:
    """The stored book; built once (under the instrument lock) for an instrument
    that never had a matching batch since marketdata was installed."""
    row = BookSnapshot.objects.filter(instrument=instrument).first()
    if row is None:
        from marketdata.services import book_snapshot_rebuild

        row = book_snapshot_rebuild(instrument_id=instrument.pk)
    return row


def depth_get(*, instrument: Instrument, limit: int) -> dict:
    row = book_snapshot_get(instrument=instrument)
    return {
        "symbol": instrument.symbol,
        "sequence": row.seq,
        "bids": messages.levels(instrument, row.bids[:limit]),
        "asks": messages.levels(instrument, row.asks[:limit]),
    }


def trade_list_recent(
    *, instrument: Instrument, limit: int, max_seq: int | None = None
) -> list[dict]:
    """Newest first (index trade_tape: instrument, -seq)."""
    trades = Trade.objects.filter(instrument=instrument)
    if max_seq is not None:
        trades = trades.filter(seq__lte=max_seq)
    return [messages.trade(instrument, row) for row in trades.order_by("-seq")[:limit]]


# --- Ticker -----------------------------------------------------------------------


@dataclass
class WindowStats:
    start: datetime
    end: datetime
    open: int | None = None
    high: int | None = None
    low: int | None = None
    volume: int = 0
    quote_volume: int = 0
    trades: int = 0

    def add(self, open_, high, low, volume, quote_volume, trades) -> None:
        if open_ is None:
            return
        if self.open is None:
            self.open = open_
        self.high = high if self.high is None else max(self.high, high)
        self.low = low if self.low is None else min(self.low, low)
        self.volume += volume or 0
        self.quote_volume += quote_volume or 0
        self.trades += trades or 0


def _older_minutes(instrument_id: int, start: datetime, end: datetime) -> tuple:
    """Aggregate of the 1m candles in [start, end): complete minutes, which no new
    trade can change any more, so cached until the minute rolls over."""
    key = f"marketdata:window:{instrument_id}:{int(end.timestamp())}"
    cached = cache.get(key)
    if cached is not None:
        return tuple(cached)
    candles = Candle.objects.filter(
        instrument_id=instrument_id,
        interval=Candle.Interval.M1,
        open_time__gte=start,
        open_time__lt=end,
    )
    agg = candles.aggregate(
        high=Max("high"),
        low=Min("low"),
        volume=Sum("volume"),
        quote_volume=Sum("quote_volume"),
        trades=Sum("trades"),
    )
    first = candles.order_by("open_time").values_list("open", flat=True).first()
    value = (
        first,
        agg["high"],
        agg["low"],
        agg["volume"],
        agg["quote_volume"],
        agg["trades"],
    )
    cache.set(key, list(value), 150)
    return value


def window_stats(*, instrument: Instrument, now: datetime | None = None) -> WindowStats:
    """Rolling 24 h from the 1m candles: the 1440 minutes ending with the current
    one. The 1438 older minutes come from the cache (one aggregate per minute);
    the last two minutes (still changing) are read live."""
    now = now or timezone.now()
    minute = bucket_start(now, "1m")
    start = minute - timedelta(minutes=WINDOW_MINUTES - 1)
    recent = minute - timedelta(minutes=1)
    stats = WindowStats(start=start, end=now)
    stats.add(*_older_minutes(instrument.pk, start, recent))
    with connection.cursor() as cursor:
        # every matching batch with trades runs this: in SQL, not compiled anew
        cursor.execute(
            # the model's table, values bound
            "SELECT open, high, low, volume, quote_volume, trades"  # noqa: S608
            f" FROM {Candle._meta.db_table}"
            " WHERE instrument_id = %s AND interval = %s"
            " AND open_time >= %s AND open_time <= %s ORDER BY open_time",
            [instrument.pk, Candle.Interval.M1.value, recent, minute],
        )
        for row in cursor.fetchall():
            stats.add(*row)
    return stats


def _percent(change: int, base: int) -> str:
    value = Decimal(change * 100) / Decimal(base)
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def ticker_build(
    *,
    instrument: Instrument,
    sequence: int,
    bids: list,
    asks: list,
    last_price_ticks: int | None,
    now: datetime | None = None,
) -> dict:
    stats = window_stats(instrument=instrument, now=now)
    change = None
    percent = None
    if stats.open is not None and last_price_ticks is not None:
        change = last_price_ticks - stats.open
        percent = _percent(change, stats.open)
    price = ticks_to_price
    return {
        "symbol": instrument.symbol,
        "sequence": sequence,
        "last": price(instrument, last_price_ticks),
        "best_bid": price(instrument, bids[0][0]) if bids else None,
        "best_ask": price(instrument, asks[0][0]) if asks else None,
        "open": price(instrument, stats.open),
        "high": price(instrument, stats.high),
        "low": price(instrument, stats.low),
        "volume": lots_to_quantity(instrument, stats.volume),
        "quote_volume": quote_str(instrument, stats.quote_volume),
        "change": None
        if change is None
        else ("-" if change < 0 else "") + str(price(instrument, abs(change))),
        "change_percent": percent,
        "window_start": messages.iso(stats.start),
        "window_end": messages.iso(stats.end),
    }


def call_state(*, instrument: Instrument, row: BookSnapshot) -> dict:
    """The session (phase, next transition) and, in a call, the indicative
    uncross as stored with the book at `row.seq` (docs/sessions.md)."""
    scales = formats.formats_for(instrument)
    return {
        "session": formats.session_fields(
            session_state_get(instrument_id=instrument.pk)
        ),
        "indicative": formats.indicative_fields(
            scales,
            row.indicative_price,
            row.indicative_lots,
            row.indicative_surplus,
            row.indicative_surplus_side,
        ),
    }


def ticker_get(*, instrument: Instrument) -> dict:
    """The ticker with the session and the indicative uncross (REST only: the
    stream's `ticker` stays the matcher's, and sends those apart)."""
    row = book_snapshot_get(instrument=instrument)
    last = Instrument.objects.values_list("last_price_ticks", flat=True).get(
        pk=instrument.pk
    )
    ticker = ticker_build(
        instrument=instrument,
        sequence=row.seq,
        bids=row.bids,
        asks=row.asks,
        last_price_ticks=last,
    )
    return {**ticker, **call_state(instrument=instrument, row=row)}


def market_list() -> list[dict]:
    results = []
    for instrument in Instrument.objects.select_related("base", "quote"):
        stats = window_stats(instrument=instrument)
        last = instrument.last_price_ticks
        percent = None
        if stats.open is not None and last is not None:
            percent = _percent(last - stats.open, stats.open)
        results.append(
            {
                "symbol": instrument.symbol,
                "base": instrument.base.code,
                "quote": instrument.quote.code,
                "status": instrument.status,
                "tick_size": quote_str(instrument, instrument.tick_size),
                "lot_size": lots_to_quantity(instrument, 1),
                "min_quantity": base_str(instrument, instrument.min_quantity),
                "min_notional": quote_str(instrument, instrument.min_notional),
                "maker_fee_bps": instrument.maker_fee_bps,
                "taker_fee_bps": instrument.taker_fee_bps,
                "fee_policy": instrument.fee_policy,
                "price_band_percent": instrument.price_band_percent,
                "last_price": ticks_to_price(instrument, last),
                "change_percent_24h": percent,
            }
        )
    return results


# --- Candles ----------------------------------------------------------------------


def candle_list(
    *,
    instrument: Instrument,
    interval: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[dict]:
    """Oldest first. Intervals without trades have no candle (omitted)."""
    candles = Candle.objects.filter(instrument=instrument, interval=interval)
    if start is not None:
        candles = candles.filter(open_time__gte=bucket_start(start, interval))
    if end is not None:
        candles = candles.filter(open_time__lt=end)
    if start is not None:
        rows = list(candles.order_by("open_time")[:limit])
    else:  # the latest `limit` candles up to `end`
        rows = list(candles.order_by("-open_time")[:limit])[::-1]
    return [messages.candle(instrument, row) for row in rows]


# --- Snapshot for the stream --------------------------------------------------------


def market_snapshot(*, symbol: str) -> dict:
    """Depth, recent trades and ticker at one sequence (trades filtered to it),
    the instrument's status and session, and in a call the indicative uncross:
    a client resynced from it needs nothing it missed."""
    instrument = instrument_get(symbol=symbol)
    row = book_snapshot_get(instrument=instrument)
    last, status, reason = Instrument.objects.values_list(
        "last_price_ticks", "status", "status_reason"
    ).get(pk=instrument.pk)
    return {
        "type": "snapshot",
        "symbol": instrument.symbol,
        "seq": row.seq,
        "status": status,
        "status_reason": reason,
        "bids": messages.levels(instrument, row.bids),
        "asks": messages.levels(instrument, row.asks),
        "trades": trade_list_recent(
            instrument=instrument,
            limit=settings.MARKETDATA_RECENT_TRADES,
            max_seq=row.seq,
        ),
        "ticker": ticker_build(
            instrument=instrument,
            sequence=row.seq,
            bids=row.bids,
            asks=row.asks,
            last_price_ticks=last,
        ),
        **call_state(instrument=instrument, row=row),
    }


# --- User events --------------------------------------------------------------------


def user_event_list(*, user_id: int, since_id: int, limit: int) -> tuple[list, bool]:
    """The user's events with id > since_id, oldest first, and whether more wait."""
    rows = list(
        UserEvent.objects.filter(user_id=user_id, id__gt=since_id).order_by("id")[
            : limit + 1
        ]
    )
    return [row.message() for row in rows[:limit]], len(rows) > limit
