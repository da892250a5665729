"""The wire shapes of docs/asyncapi.yaml, built from rows and engine
events. One place, so REST, the snapshot and the stream never disagree. The
user stream's order, fill and balance messages that the matcher writes by the
thousand are built by `marketdata.formats` (the same text, scales read once);
`fill` and `balance` here are the reference it is tested against."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson

from trading.models import Fill, Instrument, Trade
from trading.units import lots_to_quantity, quote_str, ticks_to_price
from wallet.money import format_units


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps(data) -> str:
    """Compact JSON text. orjson: 10-40x json.dumps on these small dicts, and the
    matcher encodes every message it publishes (market frames, user events, the
    stored book). Same text as `json.dumps(separators=(",", ":"))` for ASCII;
    other characters go out as UTF-8 (a WebSocket text frame's encoding), not
    as \\u escapes."""
    try:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:  # an int past 64 bits, which json writes
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def levels(instrument: Instrument, rows) -> list[list[str]]:
    return [
        [ticks_to_price(instrument, price), lots_to_quantity(instrument, lots)]
        for price, lots in rows
    ]


def trade(instrument: Instrument, row: Trade) -> dict:
    return {
        "id": row.pk,
        "seq": row.seq,
        "price": ticks_to_price(instrument, row.price_ticks),
        "quantity": lots_to_quantity(instrument, row.quantity_lots),
        "taker_side": row.taker_side,
        "auction": row.auction,
        "time": iso(row.created_at),
    }


def level_message(instrument: Instrument, event) -> dict:
    return {
        "type": "level",
        "seq": event.seq,
        "side": str(event.side),
        "price": ticks_to_price(instrument, event.price),
        "quantity": lots_to_quantity(instrument, event.quantity),
    }


def candle(instrument: Instrument, row) -> dict:
    return {
        "time": int(row.open_time.timestamp()),
        "open": ticks_to_price(instrument, row.open),
        "high": ticks_to_price(instrument, row.high),
        "low": ticks_to_price(instrument, row.low),
        "close": ticks_to_price(instrument, row.close),
        "volume": lots_to_quantity(instrument, row.volume),
        "quote_volume": quote_str(instrument, row.quote_volume),
        "trades": row.trades,
    }


def fill(instrument: Instrument, row: Fill, seq: int) -> dict:
    """The shape of GET /api/v1/fills items (trading's FillOutputSerializer)."""
    # the fill names its fee's asset (a buyer's is the base under `received`)
    base_fee = row.fee_asset_id == instrument.base_id
    fee_asset = instrument.base if base_fee else instrument.quote
    return {
        "id": row.pk,
        "trade_id": row.trade_id,
        "seq": seq,
        "order_id": row.order_id,
        "symbol": instrument.symbol,
        "side": row.side,
        "liquidity": row.liquidity,
        "price": ticks_to_price(instrument, row.price_ticks),
        "quantity": lots_to_quantity(instrument, row.quantity_lots),
        "quote_amount": quote_str(instrument, row.quote_amount),
        "fee": format_units(row.fee, fee_asset.decimals),
        "fee_asset": fee_asset.code,
        "created_at": iso(row.created_at),
    }


def balance(asset, available: int, held: int) -> dict:
    return {
        "asset": asset.code,
        "available": format_units(available, asset.decimals),
        "held": format_units(held, asset.decimals),
        "total": format_units(available + held, asset.decimals),
    }


def status(symbol: str, old: str, new: str, reason: str, at: datetime) -> dict:
    """An instrument's trading status changed (halted, resumed, closed)."""
    return {
        "type": "status",
        "symbol": symbol,
        "status": new,
        "previous": old,
        "reason": reason,
        "time": iso(at),
    }
