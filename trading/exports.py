"""My fills and my order history as CSV, streamed (the fills and orders pages'
"Download CSV"). Times are in the reader's zone, each labelled ("2026-12-07
14:05:09 IST"), and the time column names the zone; amounts are exact decimal
strings without separators, so a spreadsheet reads them as numbers."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.timezones import zone_label
from trading.api.serializers import average_price
from trading.fees import order_fee_asset
from trading.models import Fill, Order
from trading.units import lots_to_quantity, quote_str, ticks_to_price
from wallet.money import format_units


class _Echo:
    def write(self, value: str) -> str:
        return value


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """The moment in `zone` with its label: "2026-12-07 14:05:09 IST"."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {zone_label(moment, zone)}"


def request_zone() -> ZoneInfo:
    """The request's zone, taken while the view runs: a streamed body is written
    after the middleware has put the zone back."""
    return ZoneInfo(timezone.get_current_timezone_name())


def fill_rows(fills: QuerySet[Fill], *, zone: ZoneInfo) -> Iterator[list[str]]:
    yield [
        f"time ({zone.key})",
        "symbol",
        "side",
        "liquidity",
        "price",
        "quantity",
        "value",
        "quote",
        "fee",
        "fee_asset",
        "order_id",
        "trade_seq",
    ]
    rows = fills.select_related(
        "instrument__base", "instrument__quote", "fee_asset", "trade"
    ).order_by("-id")
    for fill in rows.iterator(chunk_size=500):
        instrument = fill.instrument
        yield [
            local_time(fill.created_at, zone),
            instrument.symbol,
            fill.side,
            fill.liquidity,
            ticks_to_price(instrument, fill.price_ticks),
            lots_to_quantity(instrument, fill.quantity_lots),
            quote_str(instrument, fill.quote_amount),
            instrument.quote.code,
            format_units(fill.fee, fill.fee_asset.decimals),
            fill.fee_asset.code,
            str(fill.order_id),
            str(fill.trade.seq),
        ]


def order_rows(orders: QuerySet[Order], *, zone: ZoneInfo) -> Iterator[list[str]]:
    yield [
        f"time ({zone.key})",
        "order_id",
        "symbol",
        "side",
        "type",
        "price",
        "stop_price",
        "quantity",
        "filled",
        "average_price",
        "fees",
        "fee_asset",
        "status",
        "reason",
    ]
    rows = orders.select_related("instrument__base", "instrument__quote").order_by(
        "-id"
    )
    for order in rows.iterator(chunk_size=500):
        instrument = order.instrument
        fee_asset = order_fee_asset(order, instrument)
        yield [
            local_time(order.created_at, zone),
            str(order.pk),
            instrument.symbol,
            order.side,
            order.type,
            ticks_to_price(instrument, order.price_ticks) or "",
            ticks_to_price(instrument, order.stop_price_ticks) or "",
            lots_to_quantity(instrument, order.quantity_lots)
            or f"{quote_str(instrument, order.quote_quantity)} {instrument.quote.code}",
            lots_to_quantity(instrument, order.filled_lots),
            average_price(order) or "",
            format_units(order.fees_paid, fee_asset.decimals),
            fee_asset.code,
            order.status,
            order.reason or "",
        ]


def csv_response(rows: Iterable[list[str]], *, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
