"""Candle intervals and the per-batch candle upsert.

Intervals are aligned to UTC: a candle of `1h` opens at hh:00:00, `4h` at 00, 04,
08, ... UTC, `1d` at 00:00 UTC, and `1w` on Monday 00:00 UTC. A trade belongs to
the candle whose interval contains its `created_at` (the matching batch's time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Q

from config.bulk import instance_from_row, model_columns
from marketdata.models import Candle
from trading.models import Instrument, Trade

SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "4h": 4 * 3600,
    "1d": 86400,
    "1w": 7 * 86400,
}
INTERVALS = tuple(SECONDS)
# 1970-01-01 was a Thursday: weeks counted from Monday 1969-12-29 00:00 UTC.
_WEEK_SHIFT = 3 * 86400


def bucket_start(moment: datetime, interval: str) -> datetime:
    """The open time of the `interval` candle containing `moment`."""
    step = SECONDS[interval]
    epoch = int(moment.timestamp() // 1)
    shift = _WEEK_SHIFT if interval == "1w" else 0
    start = (epoch + shift) // step * step - shift
    return datetime.fromtimestamp(start, tz=UTC)


def interval_delta(interval: str) -> timedelta:
    return timedelta(seconds=SECONDS[interval])


@dataclass
class _Agg:
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    quote_volume: int = 0
    trades: int = 0
    last_seq: int = 0

    def add(self, trade: Trade) -> None:
        self.high = max(self.high, trade.price_ticks)
        self.low = min(self.low, trade.price_ticks)
        self.close = trade.price_ticks
        self.volume += trade.quantity_lots
        self.quote_volume += trade.quote_amount
        self.trades += 1
        self.last_seq = trade.seq


def candles_upsert(*, instrument: Instrument, trades: list[Trade]) -> list[Candle]:
    """Fold the batch's trades into the candles of every interval: one read of
    the affected candles and one bulk upsert. The caller holds the instrument's
    row lock (the matching batch), so no other writer touches these candles."""
    if not trades:
        return []
    aggs: dict[tuple[str, datetime], _Agg] = {}
    # A run stamps all its trades with one time: their 7 buckets, once.
    buckets: dict[datetime, tuple[tuple[str, datetime], ...]] = {}
    for trade in sorted(trades, key=lambda t: t.seq):
        keys = buckets.get(trade.created_at)
        if keys is None:
            keys = buckets[trade.created_at] = tuple(
                (interval, bucket_start(trade.created_at, interval))
                for interval in INTERVALS
            )
        for key in keys:
            agg = aggs.get(key)
            if agg is None:
                price = trade.price_ticks
                aggs[key] = agg = _Agg(price, price, price, price)
            agg.add(trade)
    if connection.vendor == "postgresql":
        return _upsert_in_sql(instrument, aggs)
    where = Q()
    for interval, open_time in aggs:
        where |= Q(interval=interval, open_time=open_time)
    existing = {
        (c.interval, c.open_time): c
        for c in Candle.objects.filter(where, instrument=instrument)
    }
    rows = []
    for (interval, open_time), agg in aggs.items():
        old = existing.get((interval, open_time))
        if old is not None:
            agg.open = old.open
            agg.high = max(agg.high, old.high)
            agg.low = min(agg.low, old.low)
            agg.volume += old.volume
            agg.quote_volume += old.quote_volume
            agg.trades += old.trades
        rows.append(
            Candle(
                instrument=instrument,
                interval=interval,
                open_time=open_time,
                open=agg.open,
                high=agg.high,
                low=agg.low,
                close=agg.close,
                volume=agg.volume,
                quote_volume=agg.quote_volume,
                trades=agg.trades,
                last_seq=agg.last_seq,
            )
        )
    Candle.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["instrument", "interval", "open_time"],
        update_fields=[
            "open",
            "high",
            "low",
            "close",
            "volume",
            "quote_volume",
            "trades",
            "last_seq",
        ],
    )
    return rows


_AGG_COLUMNS = ("open", "high", "low", "close", "volume", "quote_volume", "trades")


def _upsert_in_sql(
    instrument: Instrument, aggs: dict[tuple[str, datetime], _Agg]
) -> list[Candle]:
    """PostgreSQL: the read and the upsert above as one statement, the merge done
    by ON CONFLICT (the ORM compiled two statements a batch, a tenth of a small
    matching run's CPU). Returns the candles as stored, in `aggs` order."""
    table = Candle._meta.db_table
    sql = (
        # names from the model, values bound
        f"INSERT INTO {table} AS c (instrument_id, interval, open_time,"  # noqa: S608
        f" {', '.join(_AGG_COLUMNS)}, last_seq)"
        " SELECT %s, * FROM unnest(%b::varchar[], %b::timestamptz[], %b::bigint[],"
        " %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[],"
        " %b::integer[], %b::bigint[])"
        " ON CONFLICT (instrument_id, interval, open_time) DO UPDATE SET"
        " high = GREATEST(c.high, EXCLUDED.high), low = LEAST(c.low, EXCLUDED.low),"
        " close = EXCLUDED.close, volume = c.volume + EXCLUDED.volume,"
        " quote_volume = c.quote_volume + EXCLUDED.quote_volume,"
        " trades = c.trades + EXCLUDED.trades, last_seq = EXCLUDED.last_seq"
        f" RETURNING {model_columns(Candle, 'c')}"
    )
    keys = list(aggs)
    values = list(aggs.values())
    params: list[int | list] = [  # the instrument's id, then a list per column
        instrument.pk,
        [interval for interval, _ in keys],
        [open_time for _, open_time in keys],
        *([getattr(agg, name) for agg in values] for name in _AGG_COLUMNS),
        [agg.last_seq for agg in values],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    stored = {}
    for row in rows:
        candle = instance_from_row(Candle, row)
        candle.instrument = instrument
        stored[(candle.interval, candle.open_time)] = candle
    return [stored[key] for key in keys]
