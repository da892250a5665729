"""Reads of the trading app shared by the API, pages, admin and jobs."""

from __future__ import annotations

import copy
import re

from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import User
from config.domain_errors import NotFound
from trading.errors import TradingErrorCode as Code
from trading.models import (
    FeeOverride,
    Fill,
    Instrument,
    Order,
    PriceAlert,
    TradingPreference,
)
from trading.state import matcher_state
from wallet.models import Account, Asset

# What an instrument's symbol looks like (instrument_create refuses anything else).
SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,12}-[A-Z0-9]{1,12}$")


def instrument_get(*, symbol: str) -> Instrument:
    """The instrument, or 404 `unknown_symbol`. A symbol that no instrument can
    have is not looked up: a NUL byte in it is a database error on PostgreSQL."""
    normalized = (symbol or "").strip().upper()
    instrument = (
        Instrument.objects.select_related("base", "quote")
        .filter(symbol=normalized)
        .first()
        if SYMBOL_RE.fullmatch(normalized)
        else None
    )
    if instrument is None:
        raise unknown_symbol(symbol)
    return instrument


def unknown_symbol(symbol: str) -> NotFound:
    return NotFound(
        Code.UNKNOWN_SYMBOL,
        f"symbol: no instrument {symbol!r}.",
        details={"symbol": ["Unknown symbol."]},
    )


# Instruments by symbol as this process last read them, base and quote included
# (matcher_state.placement_instruments). Only a placement uses them, for the rules
# it validates against before its transaction; under its lock it re-reads the row
# and reloads the entry when any rule differs (`instrument_rules`), so a stale entry
# can cost a retry, never a wrong order.
_placement_instruments = matcher_state.placement_instruments


def instrument_for_order(*, symbol: str, refresh: bool = False) -> Instrument:
    """A private copy of the instrument (no query when this process has it)."""
    key = (symbol or "").strip().upper()
    instrument = None if refresh else _placement_instruments.get(key)
    if instrument is None:
        instrument = instrument_get(symbol=key)
        _placement_instruments[key] = instrument
    return copy.copy(instrument)  # Django copies the relation cache too


def instruments_for_orders(*, symbols, refresh: bool = False) -> dict[str, Instrument]:
    """`instrument_for_order` for several symbols at once: {symbol: private copy},
    the symbols normalized (stripped, upper case), unknown ones left out. The ones
    this process has not read yet (all of them with `refresh`) are read in one
    query."""
    keys = {(symbol or "").strip().upper() for symbol in symbols}
    keys.discard("")
    missing = keys if refresh else keys - _placement_instruments.keys()
    if missing:
        found = list(
            Instrument.objects.select_related("base", "quote").filter(
                symbol__in=missing
            )
        )
        for instrument in found:
            _placement_instruments[instrument.symbol.upper()] = instrument
        if refresh:  # gone since this process read it
            for key in missing - {instrument.symbol.upper() for instrument in found}:
                _placement_instruments.pop(key, None)
    return {
        key: copy.copy(_placement_instruments[key])
        for key in keys
        if key in _placement_instruments
    }


def instrument_rules(instrument: Instrument) -> tuple:
    """What a placement validates against: in the order `PLACEMENT_RULE_COLUMNS`
    reads them."""
    base, quote = instrument.base, instrument.quote
    return (
        instrument.symbol,
        instrument.tick_size,
        instrument.lot_size,
        instrument.min_quantity,
        instrument.min_notional,
        instrument.maker_fee_bps,
        instrument.taker_fee_bps,
        instrument.price_band_percent,
        base.pk,
        base.code,
        base.decimals,
        quote.pk,
        quote.code,
        quote.decimals,
    )


# Aliases: i = the instrument, b/q = its base/quote asset.
PLACEMENT_RULE_COLUMNS = (
    "i.symbol, i.tick_size, i.lot_size, i.min_quantity, i.min_notional, "
    "i.maker_fee_bps, i.taker_fee_bps, i.price_band_percent, "
    "b.id, b.code, b.decimals, q.id, q.code, q.decimals"
)


def fee_rates(*, user: User, instrument: Instrument) -> tuple[int, int]:
    """(maker, taker) basis points: the user's override for this instrument, else
    their default override, else the instrument's."""
    overrides = {
        override.instrument_id: override
        for override in FeeOverride.objects.filter(user=user).filter(
            Q(instrument=instrument) | Q(instrument__isnull=True)
        )
    }
    override = overrides.get(instrument.pk) or overrides.get(None)
    if override is not None:
        return override.maker_fee_bps, override.taker_fee_bps
    return instrument.maker_fee_bps, instrument.taker_fee_bps


def order_list(*, user: User) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related(
        "instrument__base", "instrument__quote"
    )


def order_get(*, user: User, order_id: int) -> Order:
    """The user's order, or 404: nobody sees another user's orders."""
    order = order_list(user=user).filter(pk=order_id).first()
    if order is None:
        raise NotFound(Code.ORDER_NOT_FOUND, f"order {order_id} not found.")
    return order


def order_get_by_client_id(*, user: User, client_order_id: str) -> Order:
    order = order_list(user=user).filter(client_order_id=client_order_id).first()
    if order is None:
        raise NotFound(
            Code.ORDER_NOT_FOUND, f"no order with client_order_id {client_order_id!r}."
        )
    return order


def open_order_count(*, user: User) -> int:
    """Counted by the partial index `order_open_by_user`. In SQL: each placement asks,
    and the ORM's compiler cost more Python than the count."""
    statuses = [status.value for status in Order.OPEN_STATUSES]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {Order._meta.db_table}"  # noqa: S608
            f" WHERE user_id = %s AND status IN ({', '.join(['%s'] * len(statuses))})",
            [user.pk, *statuses],
        )
        return cursor.fetchone()[0]


def fill_list(*, user: User) -> QuerySet[Fill]:
    return Fill.objects.filter(user=user).select_related(
        "instrument__base", "instrument__quote", "fee_asset", "order"
    )


# --- Reading: fills and the portfolio ----------------------------------------------


def fill_list_filtered(
    *,
    user: User,
    symbol: str | None = None,
    order_id: int | None = None,
    side: str | None = None,
    created_after=None,
    created_before=None,
) -> QuerySet[Fill]:
    """The user's fills with everything the fills list shows (one query per page):
    instrument and its assets, fee asset, trade (for its id and sequence)."""
    fills = Fill.objects.filter(user=user).select_related(
        "instrument__base", "instrument__quote", "fee_asset", "trade"
    )
    if symbol:
        fills = fills.filter(instrument__symbol=symbol.strip().upper())
    if order_id is not None:
        fills = fills.filter(order_id=order_id)
    if side:
        fills = fills.filter(side=side)
    if created_after is not None:
        fills = fills.filter(created_at__gte=created_after)
    if created_before is not None:
        fills = fills.filter(created_at__lt=created_before)
    return fills


def portfolio_get(*, user: User, quote: Asset):
    """The user's portfolio valued in `quote` (trading.portfolio): three queries,
    whatever the number of fills, assets or instruments. Returns (portfolio,
    decimals by asset code) for `trading.portfolio.portfolio_as_dict`."""
    from trading import portfolio as pf

    balances: dict[str, list[int]] = {}
    decimals: dict[str, int] = {quote.code: quote.decimals}
    accounts = Account.objects.filter(owner=user).values_list(
        "asset__code", "asset__decimals", "kind", "balance"
    )
    for code, asset_decimals, kind, balance in accounts:
        decimals[code] = asset_decimals
        pair = balances.setdefault(code, [0, 0])
        pair[0 if kind == Account.Kind.AVAILABLE else 1] += balance

    instruments = {
        instrument.pk: instrument
        for instrument in Instrument.objects.select_related("base", "quote").order_by(
            "symbol"
        )
    }
    prices = []
    for instrument in instruments.values():
        decimals[instrument.base.code] = instrument.base.decimals
        decimals[instrument.quote.code] = instrument.quote.decimals
        if instrument.last_price_ticks is not None:
            prices.append(
                pf.LastPrice(
                    symbol=instrument.symbol,
                    base=instrument.base.code,
                    quote=instrument.quote.code,
                    price=instrument.last_price_ticks * instrument.tick_size,
                )
            )

    # Chronological: fill ids grow in trade order on each instrument (the matcher
    # holds the instrument's row lock while it inserts them).
    per_instrument: dict[int, list] = {}
    fills = (
        Fill.objects.filter(user=user)
        .order_by("id")
        .values_list(
            "instrument_id", "side", "quantity_lots", "quote_amount", "fee", "fee_asset"
        )
    )
    for instrument_id, side, lots, quote_amount, fee, fee_asset_id in fills.iterator():
        instrument = instruments[instrument_id]
        per_instrument.setdefault(instrument_id, []).append(
            pf.FillIn(
                side=side,
                quantity=lots * instrument.lot_size,
                quote_amount=quote_amount,
                fee=fee,
                fee_in_base=fee_asset_id == instrument.base_id,
            )
        )
    books = [
        pf.InstrumentFills(
            symbol=instruments[pk].symbol,
            base=instruments[pk].base.code,
            quote=instruments[pk].quote.code,
            fills=tuple(fills),
        )
        for pk, fills in per_instrument.items()
    ]
    portfolio = pf.portfolio_build(
        quote=quote.code,
        balances={code: (a, h) for code, (a, h) in balances.items()},
        books=books,
        market=pf.Market.of(decimals, prices),
    )
    return portfolio, decimals


def price_alert_list(
    *, user: User, instrument: Instrument | None = None
) -> QuerySet[PriceAlert]:
    """The user's price alerts (of one instrument when given), newest first."""
    alerts = PriceAlert.objects.filter(user=user).select_related(
        "instrument__base", "instrument__quote"
    )
    if instrument is not None:
        alerts = alerts.filter(instrument=instrument)
    return alerts.order_by("-created_at", "-id")


def price_alert_get(*, user: User, alert_id: int) -> PriceAlert:
    """One of the user's alerts; another user's is a 404 like a missing one."""
    alert = price_alert_list(user=user).filter(pk=alert_id).first()
    if alert is None:
        raise price_alert_not_found(alert_id)
    return alert


def price_alert_not_found(alert_id: object) -> NotFound:
    return NotFound(
        Code.PRICE_ALERT_NOT_FOUND,
        f"id: no price alert {alert_id}.",
        details={"id": ["Not found."]},
    )


def trading_preference_skips_limit_review(*, user: User) -> bool:
    """Whether the user skips the review step for limit orders (default: no)."""
    return TradingPreference.objects.filter(user=user, skip_limit_review=True).exists()
